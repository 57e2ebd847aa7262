"""Code that runs inside reprobox images; standard library only."""
