"""Layer 3: one proxy training and where it runs — the epoch loop (trainer),
the proxy recipe (proxy), the Ray cluster (cluster), latency timing (latency) and the run
folder's row stores (rundir). May import settings/ and the layers below it (scaling/, data/,
util/, errors)."""
