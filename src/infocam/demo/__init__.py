"""The embedded default: the whole pipeline on 5,000 real MNIST digits (``infocam demo``)."""
