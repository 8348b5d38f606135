"""swiftkit: validate, plan and launch ms-swift fine-tuning runs from YAML recipes."""

__version__ = "0.1.0"
