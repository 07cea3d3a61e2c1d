"""Cases and their tasks: the facade's case operations, the store, states, views, materials."""
