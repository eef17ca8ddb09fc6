"""Everything that turns video into music: analysis, the composer, the VMAS model, post."""
