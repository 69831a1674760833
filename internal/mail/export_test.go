package mail

// BuildMsg exposes buildMsg to the tests of package mail_test.
var BuildMsg = buildMsg
