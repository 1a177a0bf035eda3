//go:build !chdb

package warehouse

// EmbeddedAvailable reports whether this binary carries chDB.
const EmbeddedAvailable = false

// OpenEmbedded fails: this binary was built without chDB.
func OpenEmbedded(dir, database string) (*Store, error) { return nil, ErrEmbeddedUnavailable }

func closeEmbedded() error { return nil }
