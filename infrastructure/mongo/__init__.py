"""MongoDB plumbing: client factory and the embedded ``nx-27017`` store."""
