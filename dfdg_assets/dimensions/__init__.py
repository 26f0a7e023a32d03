"""Dimensions: time, municipality and region, organisation, citizen, education."""
