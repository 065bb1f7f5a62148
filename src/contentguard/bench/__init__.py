"""The benchmarks behind `contentguard bench`, `bench-load` and `bench-text`: images, the HTTP
service under load, texts. Layer: surfaces (it drives the server too)."""
