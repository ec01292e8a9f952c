"""Developer tools, apart from the running bot: the dial client (plays Asterisk's part),
simulated calls, benchmarks and their plots, and the demo mail sink."""
