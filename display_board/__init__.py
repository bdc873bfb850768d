"""display_board package."""
