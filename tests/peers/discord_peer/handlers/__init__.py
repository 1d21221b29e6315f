"""The REST API by area; each handler takes the peer, the path's parts, the JSON body and the
query, and answers as Discord does."""
