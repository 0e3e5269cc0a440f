package http

import "slices"

// Routes returns every route the server registered, as "METHOD /path" (Go mux patterns).
func (s *Server) Routes() []string { return slices.Clone(s.patterns) }
