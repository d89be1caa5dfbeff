"""Side-by-side benchmarks of trident.gitops against the tools users would otherwise run."""
