"""Pictures and pages: overlays, paper-style figures, tables, the HTML report, explain."""
