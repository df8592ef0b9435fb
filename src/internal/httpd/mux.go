package httpd

import (
	"fmt"
	"net/url"
	"sort"
	"strings"
)

// A ServeMux routes requests by method and path, with the patterns of
// net/http's ServeMux that trustjoin uses: "[METHOD ]/a/{name}/b" matches
// the path segment by segment ({name} is any one non-empty segment,
// PathValue gives it unescaped), a pattern ending in "/{$}" matches only
// the path with the slash, and "/" alone matches every path no other
// pattern does. A GET pattern also answers HEAD. A path some pattern
// matches with another method gets 405 and the methods it has.
type ServeMux struct {
	routes   []route
	fallback Handler
}

type route struct {
	method string
	segs   []string // literal, or "{name}"
	h      Handler
}

// NewServeMux returns an empty mux.
func NewServeMux() *ServeMux { return &ServeMux{} }

// HandleFunc registers f for pattern.
func (m *ServeMux) HandleFunc(pattern string, f func(ResponseWriter, *Request)) {
	m.Handle(pattern, HandlerFunc(f))
}

// Handle registers h for pattern; a malformed pattern panics, as with
// net/http.
func (m *ServeMux) Handle(pattern string, h Handler) {
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		method, path = "", pattern
	}
	if path == "/" && method == "" {
		m.fallback = h
		return
	}
	if !strings.HasPrefix(path, "/") || strings.HasSuffix(path, "/") && !strings.HasSuffix(path, "/{$}") {
		panic(fmt.Sprintf("httpd: unsupported pattern %q", pattern))
	}
	path = strings.TrimSuffix(path, "{$}")
	r := route{method: method, segs: strings.Split(path[1:], "/"), h: h}
	for _, s := range r.segs {
		if strings.ContainsAny(s, "{}") && !(strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") && len(s) > 2) {
			panic(fmt.Sprintf("httpd: unsupported pattern %q", pattern))
		}
	}
	m.routes = append(m.routes, r)
	// Literal segments before wildcards, from the first segment on: the
	// most specific pattern is tried first.
	sort.SliceStable(m.routes, func(i, j int) bool { return moreSpecific(m.routes[i].segs, m.routes[j].segs) })
}

func moreSpecific(a, b []string) bool {
	for i := 0; i < len(a) && i < len(b); i++ {
		wa, wb := strings.HasPrefix(a[i], "{"), strings.HasPrefix(b[i], "{")
		if wa != wb {
			return wb
		}
	}
	return false
}

// ServeHTTP implements Handler.
func (m *ServeMux) ServeHTTP(w ResponseWriter, r *Request) {
	segs := strings.Split(r.URL.EscapedPath()[1:], "/")
	var allow []string
	for _, rt := range m.routes {
		params, ok := match(rt.segs, segs)
		if !ok {
			continue
		}
		if rt.method != "" && rt.method != r.Method && !(rt.method == "GET" && r.Method == "HEAD") {
			allow = append(allow, rt.method)
			if rt.method == "GET" {
				allow = append(allow, "HEAD")
			}
			continue
		}
		r.params = params
		rt.h.ServeHTTP(w, r)
		return
	}
	if len(allow) > 0 {
		sort.Strings(allow)
		w.Header().Set("Allow", strings.Join(allow, ", "))
		Error(w, "405 method not allowed", StatusMethodNotAllowed)
		return
	}
	if m.fallback != nil {
		m.fallback.ServeHTTP(w, r)
		return
	}
	Error(w, "404 page not found", StatusNotFound)
}

// match matches a path's escaped segments against a pattern's.
func match(pat, segs []string) (map[string]string, bool) {
	if len(pat) != len(segs) {
		return nil, false
	}
	var params map[string]string
	for i, p := range pat {
		if strings.HasPrefix(p, "{") {
			v, err := url.PathUnescape(segs[i])
			// A dot step is a path's, never a name (net/http's mux would
			// clean it away and answer for another path).
			if err != nil || v == "" || v == "." || v == ".." {
				return nil, false
			}
			if params == nil {
				params = map[string]string{}
			}
			params[p[1:len(p)-1]] = v
			continue
		}
		if p != segs[i] {
			return nil, false
		}
	}
	return params, true
}
