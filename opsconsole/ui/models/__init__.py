"""Qt item models: thin adapters over the core's store and alarm tracker."""
