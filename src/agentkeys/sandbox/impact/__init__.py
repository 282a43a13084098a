"""Bill impacts: a baseline and a modified load billed over one period, and the difference."""
