"""Demonstration tools, not runtime library: stand-ins for the systems around Vigie that it
does not own (the accounting system's billing events, ``vigie simulate billing``; its online
payment page, ``payment/``, which ``vigie up --demo`` runs)."""
