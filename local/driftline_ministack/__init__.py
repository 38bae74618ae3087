"""driftline's additions to MiniStack, registered by ``serve`` before MiniStack serves."""
