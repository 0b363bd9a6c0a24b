// Package metadatasrv answers HTTP requests for a config drive tree
// (builder/configdrive) the way nova's metadata service answers guests at
// http://169.254.169.254 (nova/api/metadata: base.py's lookup and the
// handler's rendering), so that a guest can be booted against the same
// instance data over the network instead of from a drive.
//
// The layout served:
//
//	/openstack                       the OpenStack versions, "latest" last
//	/openstack/<version>             that version's files (plus "password")
//	/openstack/<version>/<file>      meta_data.json, user_data, vendor_data.json,
//	                                 network_data.json, vendor_data2.json
//	/openstack/<version>/password    empty: no password was posted
//	/openstack/content/<NNNN>        injected files
//	/                                the EC2 versions, "latest" last
//	/<version>                       meta-data/ and user-data
//	/<version>/meta-data/...         the EC2 tree, one level per request
//	/<version>/user-data             the user data
//
// Like nova, a path that is not "openstack" or "ec2" is an EC2 path, paths
// are normalised (trailing slashes do not matter), a directory answers with
// its listing, one name per line, sub-directories with a trailing "/", and
// what does not exist is 404. Only GET and HEAD are answered: nova accepts
// a POST of the encrypted password, which a test server has no use for.
//
// The EC2 versions are the ones in the tree: a config drive keeps only
// 2009-04-04 (nova's config_drive_skip_versions), while nova's service also
// lists the older ones; cloud-init asks only for "latest".
package metadatasrv

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/zguest/zguest/builder/fstree"
)

// maxFile bounds what is read from the tree for one answer (nova's user
// data limit is 64 KiB; meta_data.json with keys and files stays far below).
const maxFile = 16 << 20

// ErrInvalid is wrapped by New's errors about the tree.
var ErrInvalid = errors.New("not a config drive tree")

// Request is one answered request, for tests and logs.
type Request struct {
	Method, Path string
	Status       int
	Remote       string // the client's address, host:port
}

// Server is an http.Handler serving one instance's metadata.
type Server struct {
	tree *fstree.Tree
	log  *slog.Logger
	// ec2 is each EC2 version's tree: "meta-data" (decoded from
	// ec2/<version>/meta-data.json) and "user-data".
	ec2         map[string]map[string]any
	ec2Versions []string
	osVersions  []string

	mu   sync.Mutex
	seen []Request
}

// New checks that tree has at least one OpenStack version with a
// meta_data.json and prepares the EC2 trees.
func New(tree *fstree.Tree, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{tree: tree, log: log, ec2: map[string]map[string]any{}}
	if n := tree.Lookup("openstack"); n != nil && n.Dir {
		for _, c := range n.Children {
			if c.Dir && c.Name != "content" && tree.Lookup("openstack/"+c.Name+"/meta_data.json") != nil {
				s.osVersions = append(s.osVersions, c.Name)
			}
		}
	}
	if len(s.osVersions) == 0 {
		return nil, fmt.Errorf("%w: no openstack/<version>/meta_data.json", ErrInvalid)
	}
	sortLatestLast(s.osVersions)
	if n := tree.Lookup("ec2"); n != nil && n.Dir {
		for _, c := range n.Children {
			if !c.Dir {
				continue
			}
			md, err := s.ec2MetaData(c.Name)
			if err != nil {
				return nil, err
			}
			v := map[string]any{"meta-data": md}
			if ud, err := tree.ReadFile("ec2/"+c.Name+"/user-data", maxFile); err == nil {
				v["user-data"] = ud
			}
			s.ec2[c.Name] = v
			s.ec2Versions = append(s.ec2Versions, c.Name)
		}
	}
	sortLatestLast(s.ec2Versions)
	return s, nil
}

// sortLatestLast orders dated versions oldest first with "latest" last.
func sortLatestLast(v []string) {
	sort.Slice(v, func(i, j int) bool {
		if (v[i] == "latest") != (v[j] == "latest") {
			return v[j] == "latest"
		}
		return v[i] < v[j]
	})
}

// ec2MetaData decodes ec2/<version>/meta-data.json. Nova's service shows
// the public keys as "0=<key name>" (a "_name" entry in its tree); a
// config drive's JSON may lack it, so the name is taken from
// meta_data.json's keys, as nova takes both from the same key pair.
func (s *Server) ec2MetaData(version string) (map[string]any, error) {
	p := "ec2/" + version + "/meta-data.json"
	b, err := s.tree.ReadFile(p, maxFile)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var md map[string]any
	if err := dec.Decode(&md); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, p, err)
	}
	keys, _ := md["public-keys"].(map[string]any)
	if k0, ok := keys["0"].(map[string]any); ok {
		if _, named := k0["_name"]; !named {
			if name := s.firstKeyName(); name != "" {
				k0["_name"] = "0=" + name
			}
		}
	}
	return md, nil
}

func (s *Server) firstKeyName() string {
	b, err := s.tree.ReadFile("openstack/"+s.osVersions[len(s.osVersions)-1]+"/meta_data.json", maxFile)
	if err != nil {
		return ""
	}
	var md struct {
		Keys []struct {
			Name string `json:"name"`
		} `json:"keys"`
	}
	if json.Unmarshal(b, &md) != nil || len(md.Keys) == 0 {
		return ""
	}
	return md.Keys[0].Name
}

// Requests returns the requests answered so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.seen)
}

// errNotFound is what every lookup miss returns.
var errNotFound = errors.New("not found")

// ServeHTTP answers one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	status := http.StatusOK
	defer func() {
		s.mu.Lock()
		s.seen = append(s.seen, Request{r.Method, r.URL.Path, status, r.RemoteAddr})
		s.mu.Unlock()
		// The path and status only: user data and keys are never logged.
		s.log.Info("metadata request", "method", r.Method, "path", r.URL.Path, "status", status, "remote", r.RemoteAddr)
	}()
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		status = http.StatusMethodNotAllowed
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "only GET and HEAD are answered", status)
		return
	}
	body, ctype, err := s.Lookup(r.URL.Path)
	if err != nil {
		status = http.StatusNotFound
		http.Error(w, "The resource could not be found.", status)
		return
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(status)
	if r.Method == http.MethodGet {
		_, _ = w.Write(body)
	}
}

// Lookup returns the answer for a request path and its content type.
func (s *Server) Lookup(p string) ([]byte, string, error) {
	p = path.Clean("/" + p)
	toks := strings.Split(strings.TrimPrefix(p, "/"), "/")
	switch {
	case toks[0] == "openstack":
		return s.openstack(toks[1:])
	case toks[0] == "ec2":
		toks = toks[1:]
	case toks[0] == "":
		toks = nil
	}
	return s.ec2Lookup(toks)
}

const (
	textPlain = "text/plain; charset=UTF-8"
	appJSON   = "application/json"
)

func listing(names []string) []byte { return []byte(strings.Join(names, "\n")) }

func (s *Server) openstack(toks []string) ([]byte, string, error) {
	if len(toks) == 0 {
		return listing(s.osVersions), textPlain, nil
	}
	if toks[0] == "content" {
		// nova: no listing of content, and exactly one name below it.
		if len(toks) != 2 {
			return nil, "", errNotFound
		}
		return s.file("openstack/content/" + toks[1])
	}
	if !slices.Contains(s.osVersions, toks[0]) {
		return nil, "", errNotFound
	}
	dir := "openstack/" + toks[0]
	switch len(toks) {
	case 1:
		var names []string
		for _, c := range s.tree.Lookup(dir).Children {
			if !c.Dir {
				names = append(names, c.Name)
			}
		}
		if s.hasPassword(toks[0]) {
			names = append(names, "password")
		}
		sort.Strings(names)
		return listing(names), textPlain, nil
	case 2:
		if toks[1] == "password" && s.hasPassword(toks[0]) {
			return []byte{}, textPlain, nil
		}
		body, _, err := s.file(dir + "/" + toks[1])
		if err != nil {
			return nil, "", err
		}
		ctype := textPlain
		if strings.HasSuffix(toks[1], ".json") {
			ctype = appJSON
		}
		return body, ctype, nil
	}
	return nil, "", errNotFound
}

// hasPassword: nova serves a password path from Grizzly on.
func (s *Server) hasPassword(version string) bool {
	return version == "latest" || version >= "2013-04-04"
}

func (s *Server) file(p string) ([]byte, string, error) {
	n := s.tree.Lookup(p)
	if n == nil || n.Dir {
		return nil, "", errNotFound
	}
	b, err := s.tree.ReadFile(p, maxFile)
	if err != nil {
		return nil, "", err
	}
	return b, textPlain, nil
}

func (s *Server) ec2Lookup(toks []string) ([]byte, string, error) {
	if len(toks) == 0 {
		return listing(s.ec2Versions), textPlain, nil
	}
	v, ok := s.ec2[toks[0]]
	if !ok {
		return nil, "", errNotFound
	}
	var cur any = v
	for _, t := range toks[1:] {
		m, ok := cur.(map[string]any)
		if !ok || t == "_name" {
			return nil, "", errNotFound
		}
		if cur, ok = m[t]; !ok {
			return nil, "", errNotFound
		}
	}
	return ec2Print(cur), textPlain, nil
}

// ec2Print renders one node of the EC2 tree as nova's handler does: a
// directory lists its keys sorted, a sub-directory as "name/" (or its
// "_name", which is how the public keys read "0=<key name>"), a list one
// item per line, a null as "None" (Python's str), anything else as text.
func ec2Print(v any) []byte {
	switch v := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			if k != "_name" {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		var out []string
		for _, k := range keys {
			if sub, ok := v[k].(map[string]any); ok {
				if name, ok := sub["_name"].(string); ok {
					out = append(out, name)
				} else {
					out = append(out, k+"/")
				}
				continue
			}
			out = append(out, k)
		}
		return listing(out)
	case []any:
		var out []string
		for _, x := range v {
			out = append(out, string(ec2Print(x)))
		}
		return listing(out)
	case []byte:
		return v
	case string:
		return []byte(v)
	case nil:
		return []byte("None")
	case bool:
		if v {
			return []byte("True")
		}
		return []byte("False")
	default:
		return fmt.Append(nil, v)
	}
}
