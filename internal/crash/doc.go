// Package crash is the test hook that kills berth at a named step, so
// that tests can check what the next command makes of what a killed one
// left (integration/crash_test.go).
//
// BERTH_TEST_CRASH_AT=STEP makes the process SIGKILL itself when it
// reaches Point(STEP): no deferred clean-up runs, as with a real kill.
// The variable is read once and taken out of the environment, so that
// the monitors and keepers the command starts do not inherit it: only
// the command itself dies.
package crash
