"""SPI NOR flash chip models."""
