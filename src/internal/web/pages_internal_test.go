package web

import (
	"strings"
	"testing"
)

func TestRenderEscapesAndCuts(t *testing.T) {
	b, err := render("error.html", map[string]string{"TITLE": `<script>alert("x")</script>`, "MESSAGE": "{{TRY}}", "TRY": ""},
		map[string]bool{"try": false, "continue": true})
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	for _, bad := range []string{"<script>", `id="try"`, "<!--"} {
		if strings.Contains(page, bad) {
			t.Errorf("page holds %q:\n%s", bad, page)
		}
	}
	for _, want := range []string{"&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;", `<p id="message">{{TRY}}</p>`, `id="continue"`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q:\n%s", want, page)
		}
	}
	for _, legacy := range []bool{false, true} {
		b, err := render("phone.html", map[string]string{"CSRF": "tok", "TTL": "30 minutes"}, map[string]bool{"legacy": legacy, "nolegacy": !legacy})
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(string(b), `id="legacy-submit"`); got != legacy {
			t.Errorf("legacy %v: legacy button shown %v", legacy, got)
		}
		if strings.Contains(string(b), "{{") || strings.Contains(string(b), "<!--") {
			t.Errorf("legacy %v: placeholders or markers left:\n%s", legacy, b)
		}
	}
	if _, err := render("phone.html", map[string]string{"CSRF": "x"}, nil); err == nil || !strings.Contains(err.Error(), "no value for {{TTL}}") {
		t.Fatalf("a missing value: %v", err)
	}
}
