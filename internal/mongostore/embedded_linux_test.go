package mongostore_test

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/igf/nomina/internal/mongostore"
)

// Finding 1 of the security review: with no listen address asked for, the
// embedded store opens no TCP port at all (before, it listened on a
// loopback port any local user could reach without credentials).
func TestEmbeddedStoreOpensNoTCPPort(t *testing.T) {
	before := listeningTCP(t)
	e := mustStartEmbedded(t, t.TempDir(), mongostore.EmbeddedOptions{})
	after := listeningTCP(t)
	for inode, addr := range after {
		if _, ok := before[inode]; !ok {
			t.Errorf("the embedded store listens on TCP %s", addr)
		}
	}
	// The check sees listeners: one on the TLS address shows up.
	withTLS := mustStartEmbedded(t, t.TempDir(), mongostore.EmbeddedOptions{Listen: "127.0.0.1:0"})
	if n := len(listeningTCP(t)) - len(after); n != 1 {
		t.Fatalf("%d new TCP listeners with a TLS address, want 1 (%s)", n, withTLS.RemoteURI())
	}
	_ = e
}

// Finding 1 of the security review: another user of the machine cannot
// connect to the embedded store's socket. Root acts as that user by taking
// another file-system identity on one thread (which drops its power to
// override permissions); without root there is no other identity to take.
func TestEmbeddedSocketRefusesOtherUsers(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("NOMINA_TEST_CI") != "" {
			t.Fatal("CI must run as root: this test connects to the store as another user")
		}
		t.Skip("needs root to connect as another user")
	}
	e := mustStartEmbedded(t, t.TempDir(), mongostore.EmbeddedOptions{})
	connectAs := func(uid int) error {
		done := make(chan error, 1)
		go func() {
			// The thread is left locked, so it ends with the goroutine
			// and never runs other code under the borrowed identity.
			runtime.LockOSThread()
			prev, _, _ := syscall.RawSyscall(syscall.SYS_SETFSUID, uintptr(uid), 0, 0)
			defer syscall.RawSyscall(syscall.SYS_SETFSUID, prev, 0, 0)
			fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
			if err != nil {
				done <- err
				return
			}
			defer syscall.Close(fd)
			done <- syscall.Connect(fd, &syscall.SockaddrUnix{Name: e.SocketPath()})
		}()
		return <-done
	}
	if err := connectAs(0); err != nil {
		t.Fatalf("the owner cannot connect: %v", err)
	}
	if err := connectAs(65534); !errors.Is(err, syscall.EACCES) {
		t.Fatalf("nobody connects: %v, want permission denied", err)
	}
}

// listeningTCP returns this process's listening TCP sockets (inode to local
// address) from /proc.
func listeningTCP(tb testing.TB) map[string]string {
	tb.Helper()
	mine := map[string]bool{}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		tb.Fatal(err)
	}
	for _, fd := range fds {
		link, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err == nil && strings.HasPrefix(link, "socket:[") {
			mine[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = true
		}
	}
	out := map[string]string{}
	for _, table := range []string{"/proc/self/net/tcp", "/proc/self/net/tcp6"} {
		f, err := os.Open(table)
		if err != nil {
			tb.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // header
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
			if len(fields) > 9 && fields[3] == "0A" && mine[fields[9]] {
				out[fields[9]] = fmt.Sprint(table, " ", fields[1])
			}
		}
		f.Close()
	}
	return out
}
