"""kbot actors: one module per actor kind. Each reads top to bottom as: what it receives, the pure function it applies, what it sends, how it fails."""
