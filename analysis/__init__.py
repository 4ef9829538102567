"""Analysis plans shipped with rctscale (installed as the package ``rctscale.plans``); see README.md."""
