"""Audio taggers: musicnn (MTT_musicnn, MSD_musicnn) ported to torch, and a TF1 checkpoint reader."""
