package hmcsim

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"sync"
	"time"
)

// DefaultPort is the HMC WS API port.
const DefaultPort = 6794

// Options configure a Sim.
type Options struct {
	// Listen is the TCP address; default "127.0.0.1:6794". Use
	// "127.0.0.1:0" in tests.
	Listen string
	// Inventory, or InventoryFile when Inventory is nil, is required.
	Inventory     *Inventory
	InventoryFile string
	// Hosts are extra certificate SANs (IPs or DNS names) besides
	// 127.0.0.1, ::1 and localhost.
	Hosts []string
	// SessionIdle expires a session that was not used for this long
	// (403 reason 5 afterwards); zero means sessions never expire.
	SessionIdle time.Duration
	// JobDuration is how long a start/stop job stays "running"; zero
	// completes it immediately.
	JobDuration time.Duration
	// DeferredStatus is how long a started partition stays "starting"
	// after its start job completed ("deferred status"); zero turns it
	// "active" when the job completes.
	DeferredStatus time.Duration
	// Latency is added to every /api request (also settable later).
	Latency time.Duration
	Log     *slog.Logger
	// VolumeDir, when set, holds one sparse backing file per storage
	// volume, named as udev names the LUN's device link under
	// /dev/disk/by-id (wwn-0x<uuid>, see volumes.go): the disk contents
	// a partition with FCP access would see. Made at Start if missing.
	VolumeDir string
}

// Sim is a running HMC simulator.
type Sim struct {
	opts  Options
	inv   *Inventory
	log   *slog.Logger
	certP []byte
	ln    net.Listener
	srv   *http.Server
	url   string
	done  chan struct{}

	mu         sync.Mutex
	cpcs       map[string]*cpc
	cpcOrder   []*cpc
	adapters   map[string]*adapter
	vswitches  map[string]*vswitch
	sgroups    map[string]*sgroup
	volumes    map[string]*svolume // by element-uri
	partitions map[string]*partition
	partOrder  []string
	sessions   map[string]*session
	jobs       map[string]*job
	faults     faults
	counts     map[string]int
	seq        uint64
	jobTime    time.Duration
	deferred   time.Duration
	idle       time.Duration
}

// Start loads the inventory, generates a self-signed certificate and
// serves HTTPS until Close or ctx ends.
func Start(ctx context.Context, o Options) (*Sim, error) {
	inv := o.Inventory
	if inv == nil {
		if o.InventoryFile == "" {
			return nil, errors.New("hmcsim: no inventory (Options.Inventory or InventoryFile)")
		}
		var err error
		if inv, err = LoadInventoryFile(o.InventoryFile); err != nil {
			return nil, err
		}
	} else if err := inv.normalize(); err != nil {
		return nil, fmt.Errorf("hmcsim: inventory: %w", err)
	}
	if o.Listen == "" {
		o.Listen = fmt.Sprintf("127.0.0.1:%d", DefaultPort)
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	s := &Sim{opts: o, inv: inv, log: o.Log, done: make(chan struct{}),
		jobTime: o.JobDuration, deferred: o.DeferredStatus, idle: o.SessionIdle}
	s.faults.latency = o.Latency
	s.load()
	if err := s.makeVolumeFiles(); err != nil {
		return nil, err
	}
	certPEM, cert, err := selfSigned(o.Hosts)
	if err != nil {
		return nil, err
	}
	s.certP = certPEM
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return nil, fmt.Errorf("hmcsim: listen: %w", err)
	}
	s.ln = ln
	s.url = "https://" + ln.Addr().String()
	s.srv = &http.Server{
		Handler:           s,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(o.Log.Handler(), slog.LevelDebug),
	}
	go func() {
		defer close(s.done)
		if err := s.srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("hmcsim: serve", "err", err)
		}
	}()
	go func() {
		select {
		case <-ctx.Done():
			s.Close()
		case <-s.done:
		}
	}()
	return s, nil
}

// URL is the base URL, "https://127.0.0.1:PORT".
func (s *Sim) URL() string { return s.url }

// Addr is the listener address, "127.0.0.1:PORT".
func (s *Sim) Addr() string { return s.ln.Addr().String() }

// CACertPEM is the server certificate (self-signed, CA:TRUE) in PEM;
// clients add it to their root pool.
func (s *Sim) CACertPEM() []byte { return append([]byte(nil), s.certP...) }

// CertPool is a pool holding CACertPEM.
func (s *Sim) CertPool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AppendCertsFromPEM(s.certP)
	return p
}

// Close stops the server.
func (s *Sim) Close() error {
	err := s.srv.Close()
	<-s.done
	return err
}

func selfSigned(hosts []string) ([]byte, tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, tls.Certificate{}, fmt.Errorf("hmcsim: key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "hmcsim", Organization: []string{"zguest HMC simulator"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(30 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1"), net.IPv6loopback},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, tls.Certificate{}, fmt.Errorf("hmcsim: certificate: %w", err)
	}
	p := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return p, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// newID returns a random UUID-formatted object id (lower case, as the
// HMC's).
func newID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
