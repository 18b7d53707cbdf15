"""Layer 1, beside scaling/ (neither imports the other). May import util/ and errors.

Image data for proxy training: the embedded synthetic scenes or an ImageFolder tree, held
in memory as uint8, or streamed from disk when a split exceeds the memory budget."""

from scalesearch.data.loader import (
    AUTO_MEMORY_FRACTION,
    DEFAULT_SYNTHETIC_SIZES,
    MIN_IMAGE_SIZE,
    SYNTHETIC,
    FolderStream,
    ImageSet,
    available_memory_bytes,
    check_data,
    load_data,
    memory_budget,
)

__all__ = ["AUTO_MEMORY_FRACTION", "DEFAULT_SYNTHETIC_SIZES", "MIN_IMAGE_SIZE", "SYNTHETIC",
           "FolderStream", "ImageSet", "available_memory_bytes", "check_data", "load_data",
           "memory_budget"]
