package kube_test

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/berth-dev/berth/kube"
)

// The test cluster cannot enforce NetworkPolicies (see docs/kubernetes.md),
// so what the converter's policies mean is proved here: an evaluator of the
// NetworkPolicy semantics of networking.k8s.io/v1, as kubernetes.io's
// "Network Policies" page gives them, decides every connection between the
// project's pods, the cluster DNS and an address outside the cluster, and
// the result must be what compose allows, computed from the project alone.

// endpoint is one end of a connection: a pod (namespace set), a pod on the
// node's network (host), or an address outside the cluster.
type endpoint struct {
	name   string
	ns     string
	labels map[string]string
	ip     netip.Addr
	ports  []corev1.ContainerPort
	host   bool
}

// outside is an address off the cluster. It is data only: nothing here
// opens a connection.
var outside = endpoint{name: "outside", ip: netip.MustParseAddr("203.0.113.7")}

// dnsPod is the cluster DNS as kubeadm and kind run it.
var dnsPod = endpoint{name: "cluster-dns", ns: "kube-system", labels: map[string]string{"k8s-app": "kube-dns"},
	ip: netip.MustParseAddr("10.244.255.10")}

// cluster is what the evaluator decides on: the namespaces' labels and the
// policies.
type cluster struct {
	t          testing.TB
	namespaces map[string]map[string]string
	policies   []*networkingv1.NetworkPolicy
}

func newCluster(t testing.TB) *cluster {
	c := &cluster{t: t, namespaces: map[string]map[string]string{}}
	c.namespace("kube-system", nil)
	return c
}

// namespace adds ns with its labels and the one the API server sets.
func (c *cluster) namespace(ns string, l map[string]string) {
	all := map[string]string{"kubernetes.io/metadata.name": ns}
	for k, v := range l {
		all[k] = v
	}
	c.namespaces[ns] = all
}

func (c *cluster) selects(sel *metav1.LabelSelector, l map[string]string) bool {
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		c.t.Fatalf("selector %v: %v", sel, err)
	}
	return s.Matches(labels.Set(l))
}

// isPod: policies select pods of the pod network only; a hostNetwork
// pod's traffic is the node's, which "the most common case" (the page's
// words) treats as traffic from outside the pod network.
func isPod(e endpoint) bool { return e.ns != "" && !e.host }

// policyTypes are the policy's: as given, else Ingress, plus Egress
// when it has egress rules.
func policyTypes(p *networkingv1.NetworkPolicy) []networkingv1.PolicyType {
	if len(p.Spec.PolicyTypes) > 0 {
		return p.Spec.PolicyTypes
	}
	out := []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
	if len(p.Spec.Egress) > 0 {
		out = append(out, networkingv1.PolicyTypeEgress)
	}
	return out
}

// isolating are the policies that select e and have type typ; e is
// isolated for typ when there is one.
func (c *cluster) isolating(e endpoint, typ networkingv1.PolicyType) []*networkingv1.NetworkPolicy {
	if !isPod(e) {
		return nil
	}
	var out []*networkingv1.NetworkPolicy
	for _, p := range c.policies {
		if p.Namespace != e.ns || !c.selects(&p.Spec.PodSelector, e.labels) {
			continue
		}
		for _, pt := range policyTypes(p) {
			if pt == typ {
				out = append(out, p)
			}
		}
	}
	return out
}

// peerMatches: an ipBlock matches by address; podSelector alone picks pods
// of the policy's namespace, namespaceSelector alone every pod of the
// namespaces it picks, both together the pods it picks in those.
func (c *cluster) peerMatches(p *networkingv1.NetworkPolicy, peer networkingv1.NetworkPolicyPeer, e endpoint) bool {
	if peer.IPBlock != nil {
		in := func(cidr string) bool {
			pre, err := netip.ParsePrefix(cidr)
			if err != nil {
				c.t.Fatalf("policy %s: ipBlock %q: %v", p.Name, cidr, err)
			}
			return pre.Contains(e.ip)
		}
		if !in(peer.IPBlock.CIDR) {
			return false
		}
		for _, x := range peer.IPBlock.Except {
			if in(x) {
				return false
			}
		}
		return true
	}
	if !isPod(e) {
		return false
	}
	if peer.NamespaceSelector == nil {
		if e.ns != p.Namespace {
			return false
		}
	} else if !c.selects(peer.NamespaceSelector, c.namespaces[e.ns]) {
		return false
	}
	return peer.PodSelector == nil || c.selects(peer.PodSelector, e.labels)
}

// portMatches: no ports is every port; a port's protocol defaults to TCP;
// a number (with endPort, a range) matches the destination port, a name
// the destination pod's container port of that name and protocol; no port
// is every port of the protocol.
func portMatches(ports []networkingv1.NetworkPolicyPort, dst endpoint, port int32, proto corev1.Protocol) bool {
	if len(ports) == 0 {
		return true
	}
	for _, p := range ports {
		pr := corev1.ProtocolTCP
		if p.Protocol != nil {
			pr = *p.Protocol
		}
		if pr != proto {
			continue
		}
		if p.Port == nil {
			return true
		}
		if p.Port.Type == intstr.String {
			for _, cp := range dst.ports {
				cpr := cp.Protocol
				if cpr == "" {
					cpr = corev1.ProtocolTCP
				}
				if cp.Name == p.Port.StrVal && cpr == proto && cp.ContainerPort == port {
					return true
				}
			}
			continue
		}
		hi := p.Port.IntVal
		if p.EndPort != nil {
			hi = *p.EndPort
		}
		if port >= p.Port.IntVal && port <= hi {
			return true
		}
	}
	return false
}

// allows: a connection is made when the source's egress and the
// destination's ingress both allow it.
func (c *cluster) allows(src, dst endpoint, port int32, proto corev1.Protocol) bool {
	return c.egress(src, dst, port, proto) && c.ingress(src, dst, port, proto)
}

func (c *cluster) egress(src, dst endpoint, port int32, proto corev1.Protocol) bool {
	pols := c.isolating(src, networkingv1.PolicyTypeEgress)
	if len(pols) == 0 {
		return true
	}
	for _, p := range pols {
		for _, r := range p.Spec.Egress {
			if c.anyPeer(p, r.To, dst) && portMatches(r.Ports, dst, port, proto) {
				return true
			}
		}
	}
	return false
}

func (c *cluster) ingress(src, dst endpoint, port int32, proto corev1.Protocol) bool {
	pols := c.isolating(dst, networkingv1.PolicyTypeIngress)
	if len(pols) == 0 {
		return true
	}
	for _, p := range pols {
		for _, r := range p.Spec.Ingress {
			if c.anyPeer(p, r.From, src) && portMatches(r.Ports, dst, port, proto) {
				return true
			}
		}
	}
	return false
}

// anyPeer: an empty from or to is every source or destination.
func (c *cluster) anyPeer(p *networkingv1.NetworkPolicy, peers []networkingv1.NetworkPolicyPeer, e endpoint) bool {
	if len(peers) == 0 {
		return true
	}
	for _, peer := range peers {
		if c.peerMatches(p, peer, e) {
			return true
		}
	}
	return false
}

// TestPolicyEvaluator holds the evaluator to the rules of the page it
// follows, on policies written by hand, so that the comparison below
// rests on an evaluator that is right.
func TestPolicyEvaluator(t *testing.T) {
	tcp, udp := corev1.ProtocolTCP, corev1.ProtocolUDP
	sel := func(kv ...string) *metav1.LabelSelector {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return &metav1.LabelSelector{MatchLabels: m}
	}
	pol := func(name string, spec networkingv1.NetworkPolicySpec) *networkingv1.NetworkPolicy {
		return &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "a"}, Spec: spec}
	}
	pod := func(name, ns, ip string, kv ...string) endpoint {
		return endpoint{name: name, ns: ns, labels: sel(kv...).MatchLabels, ip: netip.MustParseAddr(ip),
			ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}, {Name: "dns", ContainerPort: 53, Protocol: udp}}}
	}
	web := pod("web", "a", "10.244.0.2", "app", "web")
	db := pod("db", "a", "10.244.0.3", "app", "db")
	other := pod("other", "b", "10.244.1.2", "app", "web")
	node := endpoint{name: "node", ns: "a", labels: map[string]string{"app": "web"}, ip: netip.MustParseAddr("192.0.2.10"), host: true}
	port := func(p networkingv1.NetworkPolicyPort) []networkingv1.NetworkPolicyPort {
		return []networkingv1.NetworkPolicyPort{p}
	}
	num := func(n int32) *intstr.IntOrString { v := intstr.FromInt32(n); return &v }
	name := func(s string) *intstr.IntOrString { v := intstr.FromString(s); return &v }
	type conn struct {
		src, dst endpoint
		port     int32
		proto    corev1.Protocol
		want     bool
	}
	for _, tc := range []struct {
		name     string
		policies []*networkingv1.NetworkPolicy
		conns    []conn
	}{
		{"no policy allows everything", nil, []conn{{web, db, 1, tcp, true}, {outside, db, 5432, tcp, true}, {db, outside, 443, udp, true}}},
		{"an empty ingress list isolates and allows nothing; types default to Ingress", []*networkingv1.NetworkPolicy{
			pol("deny", networkingv1.NetworkPolicySpec{PodSelector: *sel("app", "db")}),
		}, []conn{{web, db, 5432, tcp, false}, {db, web, 8080, tcp, true}, {db, outside, 443, tcp, true}, {web, outside, 443, tcp, true}}},
		{"Ingress is always a type by default", []*networkingv1.NetworkPolicy{
			pol("out", networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{},
				Egress: []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{PodSelector: sel("app", "db")}}}}}),
		}, []conn{{web, db, 5432, tcp, false}, {outside, db, 5432, tcp, false}, {other, outside, 443, tcp, true}}},
		{"egress rules make Egress a type", []*networkingv1.NetworkPolicy{
			pol("out", networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{},
				Egress: []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{PodSelector: sel("app", "db")}}}}}),
			pol("open", networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{}, Ingress: []networkingv1.NetworkPolicyIngressRule{{}}}),
		}, []conn{{web, db, 5432, tcp, true}, {web, outside, 443, tcp, false}, {db, web, 8080, tcp, false}, {db, db, 5432, tcp, true}, {other, web, 8080, tcp, true}}},
		{"Egress alone leaves ingress open", []*networkingv1.NetworkPolicy{
			pol("eg", networkingv1.NetworkPolicySpec{PodSelector: *sel("app", "web"), PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}}),
		}, []conn{{web, db, 5432, tcp, false}, {db, web, 8080, tcp, true}, {web, web, 8080, tcp, false}}},
		{"podSelector alone is the policy's namespace", []*networkingv1.NetworkPolicy{
			pol("in", networkingv1.NetworkPolicySpec{PodSelector: *sel("app", "db"),
				Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{PodSelector: sel("app", "web")}}}}}),
		}, []conn{{web, db, 5432, tcp, true}, {other, db, 5432, tcp, false}, {node, db, 5432, tcp, false}}},
		{"namespaceSelector and podSelector in one peer are both", []*networkingv1.NetworkPolicy{
			pol("in", networkingv1.NetworkPolicySpec{PodSelector: *sel("app", "db"),
				Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: sel("kubernetes.io/metadata.name", "b"), PodSelector: sel("app", "web")}}}}}),
		}, []conn{{web, db, 5432, tcp, false}, {other, db, 5432, tcp, true}}},
		{"namespaceSelector and podSelector in two peers are either", []*networkingv1.NetworkPolicy{
			pol("in", networkingv1.NetworkPolicySpec{PodSelector: *sel("app", "db"),
				Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: sel("kubernetes.io/metadata.name", "b")}, {PodSelector: sel("app", "nothing")}}}}}),
		}, []conn{{web, db, 5432, tcp, false}, {other, db, 5432, tcp, true}}},
		{"ports: protocol defaults to TCP, names are the destination's, endPort is a range", []*networkingv1.NetworkPolicy{
			pol("in", networkingv1.NetworkPolicySpec{PodSelector: *sel("app", "web"), Ingress: []networkingv1.NetworkPolicyIngressRule{
				{Ports: port(networkingv1.NetworkPolicyPort{Port: num(8080)})},
				{Ports: port(networkingv1.NetworkPolicyPort{Protocol: &udp, Port: name("dns")})},
				{Ports: port(networkingv1.NetworkPolicyPort{Port: num(9000), EndPort: ptrTo(int32(9010))})},
			}}),
		}, []conn{{db, web, 8080, tcp, true}, {db, web, 8080, udp, false}, {db, web, 53, udp, true}, {db, web, 53, tcp, false},
			{db, web, 9005, tcp, true}, {db, web, 9011, tcp, false}, {outside, web, 8080, tcp, true}}},
		{"ipBlock with except, and a host pod is its node's address", []*networkingv1.NetworkPolicy{
			pol("in", networkingv1.NetworkPolicySpec{PodSelector: *sel("app", "db"), Ingress: []networkingv1.NetworkPolicyIngressRule{
				{From: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0", Except: []string{"203.0.113.0/24"}}}}},
			}}),
		}, []conn{{outside, db, 5432, tcp, false}, {node, db, 5432, tcp, true}, {web, db, 5432, tcp, true}}},
		{"both ends must allow", []*networkingv1.NetworkPolicy{
			pol("in", networkingv1.NetworkPolicySpec{PodSelector: *sel("app", "db"), Ingress: []networkingv1.NetworkPolicyIngressRule{{}}}),
			pol("out", networkingv1.NetworkPolicySpec{PodSelector: *sel("app", "web"), PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
				Egress: []networkingv1.NetworkPolicyEgressRule{{Ports: port(networkingv1.NetworkPolicyPort{Port: num(5432)})}}}),
		}, []conn{{web, db, 5432, tcp, true}, {web, db, 5433, tcp, false}, {node, web, 1, tcp, true}}},
	} {
		c := newCluster(t)
		c.namespace("a", nil)
		c.namespace("b", nil)
		c.policies = tc.policies
		for _, x := range tc.conns {
			if got := c.allows(x.src, x.dst, x.port, x.proto); got != x.want {
				t.Errorf("%s: %s → %s %d/%s: %v, want %v", tc.name, x.src.name, x.dst.name, x.port, x.proto, got, x.want)
			}
		}
	}
}

func ptrTo[T any](v T) *T { return &v }

// clusterOf reads r into a cluster and one pod per compose service.
func clusterOf(t testing.TB, r *kube.Result) (*cluster, map[string]endpoint) {
	t.Helper()
	c := newCluster(t)
	pods := map[string]endpoint{}
	for _, o := range r.Objects {
		var tmpl corev1.PodTemplateSpec
		switch x := o.(type) {
		case *corev1.Namespace:
			c.namespace(x.Name, x.Labels)
			continue
		case *networkingv1.NetworkPolicy:
			c.policies = append(c.policies, x)
			continue
		case *appsv1.Deployment:
			tmpl = x.Spec.Template
		case *appsv1.StatefulSet:
			tmpl = x.Spec.Template
		case *appsv1.DaemonSet:
			tmpl = x.Spec.Template
		case *batchv1.Job:
			tmpl = x.Spec.Template
		default:
			continue
		}
		svc := tmpl.Labels[kube.LabelService]
		e := endpoint{name: svc, ns: o.GetNamespace(), labels: tmpl.Labels, host: tmpl.Spec.HostNetwork,
			ip: netip.AddrFrom4([4]byte{10, 244, 0, byte(len(pods) + 2)})}
		if e.host {
			e.ip = netip.MustParseAddr("192.0.2.10")
		}
		for _, ctr := range tmpl.Spec.Containers {
			e.ports = append(e.ports, ctr.Ports...)
		}
		pods[svc] = e
	}
	for _, e := range pods {
		if _, ok := c.namespaces[e.ns]; !ok {
			t.Fatalf("no Namespace object for namespace %q of service %s", e.ns, e.name)
		}
	}
	return c, pods
}

// target is a port a service is reached on.
type target struct {
	port  int32
	proto corev1.Protocol
}

func (p target) String() string { return fmt.Sprintf("%d/%s", p.port, p.proto) }

func protoOf(s string) corev1.Protocol {
	switch strings.ToLower(s) {
	case "udp":
		return corev1.ProtocolUDP
	case "sctp":
		return corev1.ProtocolSCTP
	}
	return corev1.ProtocolTCP
}

// composeNet is where compose puts a service: the networks it is on, or
// the host's network, or none.
type composeNet struct {
	mode string // "" (its networks), host, none
	nets map[string]bool
}

// compose is the oracle: which connections compose allows, from the
// project alone.
type compose struct {
	p *types.Project
}

// net follows network_mode service:X to X, whose namespace the service
// shares. ok is false for a mode the oracle cannot decide (container:,
// a network that is not the project's). bridge is Docker's default
// bridge: none of the project's networks, a gateway out, and its
// published ports.
func (o compose) net(name string) (n composeNet, ok bool) {
	s := o.p.Services[name]
	for i := 0; i < 10 && strings.HasPrefix(s.NetworkMode, "service:"); i++ {
		s = o.p.Services[strings.TrimPrefix(s.NetworkMode, "service:")]
	}
	switch s.NetworkMode {
	case "":
		n.nets = map[string]bool{}
		for k := range s.Networks {
			n.nets[k] = true
		}
		return n, true
	case "host", "none", "bridge":
		return composeNet{mode: s.NetworkMode}, true
	}
	return n, false
}

// internalOnly: every network of the service is internal. Docker then
// gives it no gateway: it neither reaches out nor publishes ports.
func (o compose) internalOnly(n composeNet) bool {
	if n.mode != "" || len(n.nets) == 0 {
		return false
	}
	for k := range n.nets {
		if !o.p.Networks[k].Internal {
			return false
		}
	}
	return true
}

// leaves: the service reaches addresses beyond its networks (the host
// included, and through it the ports published there).
func (o compose) leaves(n composeNet) bool {
	return n.mode == "host" || n.mode == "bridge" || (n.mode == "" && len(n.nets) > 0 && !o.internalOnly(n))
}

// published: outside the host reaches the service on port: a published
// port (the target is what the pod listens on), unless Docker publishes
// nothing for it (network_mode service:, every network internal; on
// Docker's default bridge it does); on the
// host's network, every port the service listens on.
func (o compose) published(name string, n composeNet, p target) bool {
	s := o.p.Services[name]
	if n.mode == "host" {
		return true
	}
	if n.mode != "" && n.mode != "bridge" || s.NetworkMode != "" && s.NetworkMode != "bridge" || o.internalOnly(n) {
		return false
	}
	for _, sp := range s.Ports {
		if int32(sp.Target) == p.port && protoOf(sp.Protocol) == p.proto {
			return true
		}
	}
	return false
}

// reaches: src reaches dst on port when they share a network, or when src
// leaves its networks and dst's port is open on the host.
func (o compose) reaches(src, dst string, p target) bool {
	sn, _ := o.net(src)
	dn, _ := o.net(dst)
	if sn.mode == "none" || dn.mode == "none" {
		return false
	}
	for k := range sn.nets {
		if dn.nets[k] {
			return true
		}
	}
	return o.leaves(sn) && o.published(dst, dn, p)
}

// targets are the ports others reach the service on: ports' targets and
// expose, as compose's loader reads them.
func (o compose) targets(t testing.TB, name string) []target {
	s := o.p.Services[name]
	var out []target
	seen := map[target]bool{}
	add := func(p target) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, p := range s.Ports {
		add(target{int32(p.Target), protoOf(p.Protocol)})
	}
	for _, e := range s.Expose {
		num, proto, _ := strings.Cut(e, "/")
		lo, hi, isRange := strings.Cut(num, "-")
		if !isRange {
			hi = lo
		}
		first, err1 := strconv.Atoi(lo)
		last, err2 := strconv.Atoi(hi)
		if err1 != nil || err2 != nil {
			t.Fatalf("service %s: expose %q", name, e)
		}
		for n := first; n <= last; n++ {
			add(target{int32(n), protoOf(proto)})
		}
	}
	return out
}

// comparePolicies decides every connection both ways and reports each on
// which they differ; it returns how many it decided.
func comparePolicies(t *testing.T, p *types.Project, r *kube.Result) int {
	t.Helper()
	c, pods := clusterOf(t, r)
	o := compose{p: p}
	var names []string
	for _, name := range p.ServiceNames() {
		if _, ok := o.net(name); !ok {
			t.Logf("service %s: network_mode %q is not compared", name, p.Services[name].NetworkMode)
			continue
		}
		if _, ok := pods[name]; !ok {
			t.Fatalf("service %s has no pod in the objects", name)
		}
		names = append(names, name)
	}
	n := 0
	check := func(src, dst endpoint, p target, want bool) {
		n++
		if got := c.allows(src, dst, p.port, p.proto); got != want {
			t.Errorf("%s → %s on %s: compose %s, policies %s", src.name, dst.name, p, verdict(want), verdict(got))
		}
	}
	web := target{443, corev1.ProtocolTCP}
	for _, src := range names {
		sn, _ := o.net(src)
		check(pods[src], outside, web, o.leaves(sn))
		for _, dns := range []corev1.Protocol{corev1.ProtocolUDP, corev1.ProtocolTCP} {
			check(pods[src], dnsPod, target{53, dns}, sn.mode != "none")
		}
	}
	for _, dst := range names {
		dn, _ := o.net(dst)
		for _, p := range o.targets(t, dst) {
			check(outside, pods[dst], p, dn.mode != "none" && o.published(dst, dn, p))
			for _, src := range names {
				check(pods[src], pods[dst], p, o.reaches(src, dst, p))
			}
		}
	}
	return n
}

func verdict(ok bool) string {
	if ok {
		return "allows"
	}
	return "denies"
}

// TestPoliciesAllowWhatComposeAllows: for each project, every connection
// between two services on each port one is reached on, from and to an
// address outside the cluster, and to the cluster DNS, is allowed by the
// policies exactly when compose allows it.
func TestPoliciesAllowWhatComposeAllows(t *testing.T) {
	for _, tc := range []struct{ name, compose, warning string }{
		{"two disjoint networks", `
services:
  a: {image: x, networks: [one], expose: ["80"]}
  b: {image: x, networks: [one], ports: ["8080:80"]}
  c: {image: x, networks: [two], expose: ["5432"]}
  d: {image: x, networks: [two], expose: ["6379", "7000-7002/udp"]}
networks: {one: {}, two: {}}
`, ""},
		{"a service on two networks does not route between them", `
services:
  left: {image: x, networks: [one], expose: ["80"]}
  bridge: {image: x, networks: [one, two], expose: ["81"]}
  right: {image: x, networks: [two], expose: ["82"]}
networks: {one: {}, two: {}}
`, ""},
		{"an internal network", `
services:
  web: {image: x, networks: [front, back], ports: ["80:8080"]}
  api: {image: x, networks: [back], expose: ["9000"]}
  db: {image: x, networks: [back, store], expose: ["5432"]}
  cache: {image: x, networks: [store], expose: ["6379"]}
networks:
  front: {}
  back: {internal: true}
  store: {internal: true}
`, ""},
		{"published ports of a service whose networks are all internal are not published", `
services:
  admin: {image: x, networks: [back], ports: ["8443:443", "9000"]}
  db: {image: x, networks: [back], expose: ["5432"]}
  web: {image: x, ports: ["80:80"]}
networks:
  back: {internal: true}
`, `service "admin": key "ports": its networks are all internal`},
		{"the default network, implicit", `
services:
  a: {image: x, expose: ["80"]}
  b: {image: x, ports: ["443"]}
  c: {image: x, networks: [other], expose: ["82"]}
networks: {other: {}}
`, ""},
		{"network_mode host", `
services:
  h: {image: x, network_mode: host, ports: ["9100:9100"], expose: ["9101"]}
  a: {image: x, ports: ["8080:80"], expose: ["81"]}
  i: {image: x, networks: [back], expose: ["5432"]}
networks:
  back: {internal: true}
`, ""},
		{"network_mode none", `
services:
  alone: {image: x, network_mode: none, expose: ["80"]}
  a: {image: x, ports: ["8080:80"]}
`, ""},
		{"network_mode bridge", `
services:
  legacy: {image: x, network_mode: bridge, ports: ["8081:81"], expose: ["82"]}
  quiet: {image: x, network_mode: bridge, expose: ["83"]}
  a: {image: x, ports: ["8080:80"], expose: ["84"]}
  i: {image: x, networks: [back], expose: ["5432"]}
networks:
  back: {internal: true}
`, ""},
		{"network_mode service", `
services:
  db: {image: x, networks: [dbnet], expose: ["5432"]}
  side: {image: x, network_mode: "service:db", expose: ["9187"]}
  app: {image: x, networks: [dbnet], expose: ["80"]}
  other: {image: x, networks: [elsewhere], ports: ["81:81"]}
networks: {dbnet: {}, elsewhere: {}}
`, ""},
		{"aliases", `
services:
  db:
    image: x
    networks:
      one: {aliases: [database, primary]}
    expose: ["5432"]
  app: {image: x, networks: [one], expose: ["80"]}
  outsider: {image: x, networks: [two], expose: ["81"]}
networks: {one: {}, two: {}}
`, ""},
		{"published ports of each kind", `
services:
  web:
    image: x
    networks: [front]
    ports: ["8080:80", "443", "127.0.0.1:9000:9000/udp", "30080-30081:7080-7081", {target: 6000, published: "31000", protocol: tcp, name: metrics}]
  other: {image: x, networks: [back], expose: ["1234"]}
networks: {front: {}, back: {}}
`, ""},
		{"expose without ports", `
services:
  a: {image: x, expose: ["80", "53/udp", "8000-8002"]}
  b: {image: x, networks: [default, iso], expose: ["9000"]}
  c: {image: x, networks: [iso]}
networks:
  iso: {internal: true}
`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := load(t, tc.compose, nil)
			r, err := kube.Convert(p, kube.Options{})
			if err != nil {
				t.Fatalf("convert: %v", err)
			}
			if n := comparePolicies(t, p, r); n == 0 {
				t.Error("decided no connection")
			}
			if tc.warning != "" {
				hasWarning(t, r, tc.warning)
			}
		})
	}
}
