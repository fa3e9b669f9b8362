"""Pure statistics engine: numpy/scipy only, no Django imports."""
