"""Operations: logging, metrics, the command-line tools and the local Kafka broker."""
