"""The operator's side: admin keys, and the admin API over every credential."""
