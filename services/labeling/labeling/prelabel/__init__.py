"""Model-assisted labeling: pre-label tasks that ask a running service for suggestions, and the suggestions
a person accepts, corrects or rejects. A suggestion is not an annotation until accepted."""
