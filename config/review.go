package config

// Review configures the review web page: users, sessions, languages.
// (Filled in by the review issue.)
type Review struct{}

// defaultsReview fills the review section's defaults.
func (c *Config) defaultsReview() {}

// validateReview checks the review section.
func (c *Config) validateReview(bad func(path, format string, args ...any)) {}
