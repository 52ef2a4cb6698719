"""The hybrid paper's analyses: speaker probe (Sec. 4.3), degraded transcripts for the robustness
test (Sec. 4.4, Table 3) and the channel-attention ratio of the concat_ca hybrid (Fig. 7)."""
