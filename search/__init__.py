"""Search over mail and knowledge: text extraction, chunking, embeddings, the Chroma vector
index, the database keyword index, and fusing their rankings (hybrid)."""
