package mail

import "time"

// BuildMsg exposes buildMsg to the tests of package mail_test.
var BuildMsg = buildMsg

// SetRecordTimeout bounds each try of w's recording of outcomes.
func SetRecordTimeout(w *Worker, d time.Duration) { w.recordTimeout = d }
