package mongostore

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// The embedded store's TLS listener trusts one private CA, generated on
// first use in the data directory's private folder: FerretDB serves with
// the server certificate and admits only clients presenting a certificate
// that CA signed. The CA's key stays there to issue a new server
// certificate when the listen host changes, so other instances keep their
// client certificate and URI.
const (
	tlsDirName     = privateDirName
	caCertName     = "ca.pem"
	caKeyName      = "ca-key.pem"
	serverCertName = "server.pem"
	serverKeyName  = "server-key.pem"
	clientName     = "client.pem" // certificate and key, as the driver's tlsCertificateKeyFile takes them

	certLifetime = 10 * 365 * 24 * time.Hour
	renewBefore  = 30 * 24 * time.Hour
)

// tlsFiles are the paths of the embedded store's TLS material.
type tlsFiles struct {
	caCert, caKey, serverCert, serverKey, client string
}

// uri is the URI another instance uses to reach the store at hostport.
func (f *tlsFiles) uri(hostport string) string {
	q := url.Values{}
	q.Set("directConnection", "true")
	q.Set("tls", "true")
	q.Set("tlsCAFile", f.caCert)
	q.Set("tlsCertificateKeyFile", f.client)
	return "mongodb://" + hostport + "/?" + q.Encode()
}

// ensureTLSFiles makes sure dir holds a CA, a server certificate covering
// host and a client certificate, all valid for at least renewBefore after
// now, creating or replacing what is missing, unreadable, expiring or (for
// the server) does not name host. Files are written 0600.
func ensureTLSFiles(dir, host string, now time.Time) (*tlsFiles, error) {
	if err := privateDir(dir); err != nil {
		return nil, err
	}
	f := &tlsFiles{
		caCert: filepath.Join(dir, caCertName), caKey: filepath.Join(dir, caKeyName),
		serverCert: filepath.Join(dir, serverCertName), serverKey: filepath.Join(dir, serverKeyName),
		client: filepath.Join(dir, clientName),
	}
	ca, caKey, err := loadCA(f.caCert, f.caKey, now)
	fresh := false
	if err != nil {
		if ca, caKey, err = newCA(now); err != nil {
			return nil, err
		}
		if err := writeCertAndKey(f.caCert, f.caKey, ca, caKey); err != nil {
			return nil, err
		}
		fresh = true
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	ips, names := subjectNames(host)

	if fresh || !certStillGood(f.serverCert, f.serverKey, pool, x509.ExtKeyUsageServerAuth, now, ips, names) {
		cert, key, err := issue(ca, caKey, "Nomina embedded store", x509.ExtKeyUsageServerAuth, ips, names, now)
		if err != nil {
			return nil, err
		}
		if err := writeCertAndKey(f.serverCert, f.serverKey, cert, key); err != nil {
			return nil, err
		}
	}
	if fresh || !certStillGood(f.client, f.client, pool, x509.ExtKeyUsageClientAuth, now, nil, nil) {
		cert, key, err := issue(ca, caKey, "Nomina instance", x509.ExtKeyUsageClientAuth, nil, nil, now)
		if err != nil {
			return nil, err
		}
		if err := writeCertAndKey(f.client, f.client, cert, key); err != nil {
			return nil, err
		}
	}
	// Kept files too: a copied data directory may have widened them.
	for _, p := range []string{f.caCert, f.caKey, f.serverCert, f.serverKey, f.client} {
		if err := os.Chmod(p, 0o600); err != nil {
			return nil, fmt.Errorf("restrict %s to its owner: %w", p, err)
		}
	}
	return f, nil
}

// subjectNames lists what the server certificate must name for host: the
// host itself, or for every interface (empty, 0.0.0.0, ::) loopback, this
// machine's name and its interface addresses.
func subjectNames(host string) (ips []net.IP, names []string) {
	ip := net.ParseIP(host)
	switch {
	case ip != nil && !ip.IsUnspecified():
		return []net.IP{ip}, nil
	case host != "" && ip == nil:
		return nil, []string{host}
	}
	names = []string{"localhost"}
	if h, err := os.Hostname(); err == nil && h != "" && h != "localhost" {
		names = append(names, h)
	}
	ips = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
				ips = append(ips, n.IP)
			}
		}
	}
	return ips, names
}

// certStillGood reports whether the PEM files at certPath and keyPath
// (one file for both when they are the same) hold a certificate and its key signed by the CA in pool for usage, valid until well after
// now, naming every address in ips and every name in names.
func certStillGood(certPath, keyPath string, pool *x509.CertPool, usage x509.ExtKeyUsage, now time.Time, ips []net.IP, names []string) bool {
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return false
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return false
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return false
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil || now.Add(renewBefore).After(cert.NotAfter) {
		return false
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
		return false
	}
	for _, ip := range ips {
		if !slices.ContainsFunc(cert.IPAddresses, ip.Equal) {
			return false
		}
	}
	for _, n := range names {
		if !slices.Contains(cert.DNSNames, n) {
			return false
		}
	}
	return true
}

func loadCA(certPath, keyPath string, now time.Time) (*x509.Certificate, crypto.Signer, error) {
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, nil, err
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, nil, err
	}
	signer, ok := pair.PrivateKey.(crypto.Signer)
	if !ok || !cert.IsCA || now.Add(renewBefore).After(cert.NotAfter) {
		return nil, nil, errors.New("not a usable CA")
	}
	return cert, signer, nil
}

func newCA(now time.Time) (*x509.Certificate, crypto.Signer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := serialNumber()
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "Nomina embedded store CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(certLifetime),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, fmt.Errorf("create the embedded store's CA: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

// issue signs a leaf certificate for usage with a fresh key.
func issue(ca *x509.Certificate, caKey crypto.Signer, cn string, usage x509.ExtKeyUsage, ips []net.IP, names []string, now time.Time) (*x509.Certificate, crypto.Signer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := serialNumber()
	if err != nil {
		return nil, nil, err
	}
	notAfter := now.Add(certLifetime)
	if ca.NotAfter.Before(notAfter) {
		notAfter = ca.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		IPAddresses:  ips,
		DNSNames:     names,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		return nil, nil, fmt.Errorf("issue the embedded store's %q certificate: %w", cn, err)
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

func serialNumber() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

// writeCertAndKey writes cert and key as PEM, into one file when both
// paths are the same.
func writeCertAndKey(certPath, keyPath string, cert *x509.Certificate, key crypto.Signer) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	if certPath == keyPath {
		return writeFileAtomic(certPath, bytes.Join([][]byte{certPEM, keyPEM}, nil))
	}
	if err := writeFileAtomic(keyPath, keyPEM); err != nil {
		return err
	}
	return writeFileAtomic(certPath, certPEM)
}

// writeFileAtomic replaces path with data, readable by its owner only; a
// reader sees the old file or the new one, never a part.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*") // mode 0600
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing left to remove
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
