// Package services holds the UI-facing service structs. Each exported method is one
// API call: Wails binds them for the desktop window (window.go.services.<Type>.<Method>)
// and backend/rpc exposes the very same methods to the browser. Methods therefore take
// no context and use JSON-friendly types; the logic lives in the domain packages.
package services
