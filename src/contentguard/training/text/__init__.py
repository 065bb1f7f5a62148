"""Training and evaluating the text heads on the labelled sets (`contentguard train-text`)."""
