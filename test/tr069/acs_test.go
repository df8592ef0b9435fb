package tr069_test

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// A CWMP (TR-069) exchange with the standard library only: SOAP 1.1
// envelopes over HTTP POST, the CPE opening the session with Inform and
// then asking for RPCs with empty POSTs until the ACS answers 204.

const (
	soapNS = "http://schemas.xmlsoap.org/soap/envelope/"
	cwmpNS = "urn:dslforum-org:cwmp-1-2"
)

type paramValue struct {
	Name  string `xml:"Name"`
	Value struct {
		Type string `xml:"http://www.w3.org/2001/XMLSchema-instance type,attr"`
		Text string `xml:",chardata"`
	} `xml:"Value"`
}

type cwmpFault struct {
	FaultCode   int    `xml:"FaultCode"`
	FaultString string `xml:"FaultString"`
	Params      []struct {
		ParameterName string `xml:"ParameterName"`
		FaultCode     int    `xml:"FaultCode"`
		FaultString   string `xml:"FaultString"`
	} `xml:"SetParameterValuesFault"`
}

// body is every message this exchange knows; one field is set.
type body struct {
	Inform *struct {
		DeviceID struct {
			OUI, ProductClass, SerialNumber string
		} `xml:"DeviceId"`
		Events []string     `xml:"Event>EventStruct>EventCode"`
		Params []paramValue `xml:"ParameterList>ParameterValueStruct"`
	} `xml:"Inform"`
	GetRPCMethods  *struct{} `xml:"GetRPCMethods"`
	InformResponse *struct {
		MaxEnvelopes int
	} `xml:"InformResponse"`
	GetParameterValues *struct {
		Names []string `xml:"ParameterNames>string"`
	} `xml:"GetParameterValues"`
	GetParameterValuesResponse *struct {
		Params []paramValue `xml:"ParameterList>ParameterValueStruct"`
	} `xml:"GetParameterValuesResponse"`
	SetParameterValues *struct {
		Params       []paramValue `xml:"ParameterList>ParameterValueStruct"`
		ParameterKey string
	} `xml:"SetParameterValues"`
	SetParameterValuesResponse *struct {
		Status int
	} `xml:"SetParameterValuesResponse"`
	AddObject *struct {
		ObjectName, ParameterKey string
	} `xml:"AddObject"`
	AddObjectResponse *struct {
		InstanceNumber, Status int
	} `xml:"AddObjectResponse"`
	DeleteObject *struct {
		ObjectName, ParameterKey string
	} `xml:"DeleteObject"`
	DeleteObjectResponse *struct {
		Status int
	} `xml:"DeleteObjectResponse"`
	Fault *struct {
		FaultCode string    `xml:"faultcode"`
		Detail    cwmpFault `xml:"detail>Fault"`
	} `xml:"http://schemas.xmlsoap.org/soap/envelope/ Fault"`
}

type envelope struct {
	XMLName xml.Name `xml:"http://schemas.xmlsoap.org/soap/envelope/ Envelope"`
	ID      string   `xml:"Header>ID"`
	Body    body     `xml:"Body"`
}

func parseEnvelope(b []byte) (*envelope, error) {
	var e envelope
	if err := xml.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("not a SOAP envelope: %v\n%s", err, b)
	}
	return &e, nil
}

// soap wraps one CWMP message (written with the cwmp: prefix, its
// arguments unqualified, as TR-069 has it).
func soap(id, msg string) []byte {
	return []byte(`<?xml version="1.0" encoding="UTF-8"?>
<soap:Envelope xmlns:soap="` + soapNS + `" xmlns:soap-enc="http://schemas.xmlsoap.org/soap/encoding/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:cwmp="` + cwmpNS + `">
<soap:Header><cwmp:ID soap:mustUnderstand="1">` + esc(id) + `</cwmp:ID></soap:Header>
<soap:Body>` + msg + `</soap:Body>
</soap:Envelope>`)
}

func esc(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

// pvList is a ParameterList of name, value and xsd type triples.
func pvList(pvs [][3]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<ParameterList soap-enc:arrayType="cwmp:ParameterValueStruct[%d]">`, len(pvs))
	for _, p := range pvs {
		fmt.Fprintf(&b, `<ParameterValueStruct><Name>%s</Name><Value xsi:type="xsd:%s">%s</Value></ParameterValueStruct>`, esc(p[0]), p[2], esc(p[1]))
	}
	return b.String() + "</ParameterList>"
}

// RPCs the ACS sends.

func getParameterValues(names ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<cwmp:GetParameterValues><ParameterNames soap-enc:arrayType="xsd:string[%d]">`, len(names))
	for _, n := range names {
		fmt.Fprintf(&b, "<string>%s</string>", esc(n))
	}
	return b.String() + "</ParameterNames></cwmp:GetParameterValues>"
}

// setParameterValues takes name, value, type triples.
func setParameterValues(key string, pvs ...[3]string) string {
	return "<cwmp:SetParameterValues>" + pvList(pvs) + "<ParameterKey>" + esc(key) + "</ParameterKey></cwmp:SetParameterValues>"
}

func addObject(name string) string {
	return "<cwmp:AddObject><ObjectName>" + esc(name) + "</ObjectName><ParameterKey></ParameterKey></cwmp:AddObject>"
}

func deleteObject(name string) string {
	return "<cwmp:DeleteObject><ObjectName>" + esc(name) + "</ObjectName><ParameterKey></ParameterKey></cwmp:DeleteObject>"
}

// acs is the stub ACS: each session it answers the Inform, sends the
// queued RPCs one per CPE POST, keeps the replies, and ends with 204.
type acs struct {
	t       *testing.T
	mu      sync.Mutex
	queue   []string
	replies []*envelope
	informs []*envelope
	n       int
	ended   chan struct{}
}

func newACS(t *testing.T) *acs { return &acs{t: t, ended: make(chan struct{}, 16)} }

func (a *acs) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(bytes.TrimSpace(b)) > 0 {
		e, err := parseEnvelope(b)
		if err != nil {
			a.t.Errorf("ACS: %v", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if e.Body.Inform != nil {
			a.informs = append(a.informs, e)
			w.Header().Set("Content-Type", `text/xml; charset="utf-8"`)
			w.Write(soap(e.ID, "<cwmp:InformResponse><MaxEnvelopes>1</MaxEnvelopes></cwmp:InformResponse>"))
			return
		}
		if e.Body.GetRPCMethods != nil {
			// The CPE asks what the ACS offers (easycwmpd does on start).
			w.Header().Set("Content-Type", `text/xml; charset="utf-8"`)
			w.Write(soap(e.ID, `<cwmp:GetRPCMethodsResponse><MethodList soap-enc:arrayType="xsd:string[1]"><string>Inform</string></MethodList></cwmp:GetRPCMethodsResponse>`))
			return
		}
		a.replies = append(a.replies, e)
	}
	if len(a.queue) == 0 {
		w.WriteHeader(http.StatusNoContent) // the session ends
		select {
		case a.ended <- struct{}{}:
		default:
		}
		return
	}
	rpc := a.queue[0]
	a.queue = a.queue[1:]
	a.n++
	w.Header().Set("Content-Type", `text/xml; charset="utf-8"`)
	w.Write(soap(fmt.Sprintf("acs-%d", a.n), rpc))
}

// session queues rpcs, has the CPE open a session (start) and returns the
// replies, in order, once it has ended.
func (a *acs) session(t *testing.T, start func() error, rpcs ...string) []*envelope {
	t.Helper()
	a.mu.Lock()
	a.queue, a.replies = rpcs, nil
	for len(a.ended) > 0 {
		<-a.ended
	}
	a.mu.Unlock()
	if err := start(); err != nil {
		t.Fatalf("opening a CWMP session: %v", err)
	}
	select {
	case <-a.ended:
	case <-time.After(5 * time.Minute):
		t.Fatal("the CWMP session did not end")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.queue) != 0 || len(a.replies) != len(rpcs) {
		t.Fatalf("session ended with %d RPCs unsent and %d of %d replies", len(a.queue), len(a.replies), len(rpcs))
	}
	return a.replies
}
