package mongostore

// ForgetCaches empties the store's per-instance caches, so a benchmark
// measures the lookups behind them.
func (s *Store) ForgetCaches() {
	s.members.changed()
	s.calls.mu.Lock()
	clear(s.calls.m)
	s.calls.mu.Unlock()
}
