package kube

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/berth-dev/berth/errclass"
)

// port is one target port of a service.
type port struct {
	target   int32
	protocol corev1.Protocol
	name     string
	app      string
}

func protocolOf(p string) corev1.Protocol {
	switch strings.ToLower(p) {
	case "udp":
		return corev1.ProtocolUDP
	case "sctp":
		return corev1.ProtocolSCTP
	}
	return corev1.ProtocolTCP
}

// targets are the ports others reach a service on: ports' targets and
// expose, once each.
func (c *conv) targets(s types.ServiceConfig) ([]port, error) {
	var out []port
	seen := map[string]bool{}
	add := func(p port) {
		k := fmt.Sprintf("%d/%s", p.target, p.protocol)
		if !seen[k] {
			seen[k] = true
			out = append(out, p)
		}
	}
	for _, p := range s.Ports {
		if p.Target == 0 || p.Target > 65535 {
			return nil, refuse(s.Name, "ports", "target port %d is not a port", p.Target)
		}
		add(port{target: int32(p.Target), protocol: protocolOf(p.Protocol), name: p.Name, app: p.AppProtocol})
	}
	for _, e := range s.Expose {
		num, proto, _ := strings.Cut(e, "/")
		lo, hi, isRange := strings.Cut(num, "-")
		first, err1 := strconv.Atoi(lo)
		last := first
		var err2 error
		if isRange {
			last, err2 = strconv.Atoi(hi)
		}
		if err1 != nil || err2 != nil || first < 1 || last > 65535 || last < first {
			return nil, refuse(s.Name, "expose", "%q is not a port or a range of ports", e)
		}
		if last-first >= 100 {
			return nil, refuse(s.Name, "expose", "%q: a range of more than 100 ports makes a Service too large", e)
		}
		for n := first; n <= last; n++ {
			add(port{target: int32(n), protocol: protocolOf(proto)})
		}
	}
	return out, nil
}

// containerPorts are the ports a container listens on.
func containerPorts(ports []port) []corev1.ContainerPort {
	var out []corev1.ContainerPort
	for _, p := range ports {
		out = append(out, corev1.ContainerPort{ContainerPort: p.target, Protocol: p.protocol})
	}
	return out
}

// portName is a Service port's name: compose's when Kubernetes takes it,
// else protocol and number, as a Service of several ports needs.
func portName(p port, n int32) string {
	if p.name != "" && len(validation.IsValidPortName(p.name)) == 0 {
		return p.name
	}
	return fmt.Sprintf("%s-%d", strings.ToLower(string(p.protocol)), n)
}

// reach makes the Services of s, whose target ports are ports: one of
// its name, one per alias, and one for its published ports.
func (c *conv) reach(s types.ServiceConfig, ports []port) error {
	name := c.names[s.Name]
	if len(ports) > 0 {
		var sp []corev1.ServicePort
		for _, p := range ports {
			port := corev1.ServicePort{Name: portName(p, p.target), Protocol: p.protocol, Port: p.target, TargetPort: intstr.FromInt32(p.target)}
			if p.app != "" {
				port.AppProtocol = ptr(p.app)
			}
			sp = append(sp, port)
		}
		names := []string{name}
		for _, net := range sortedKeys(s.Networks) {
			if cfg := s.Networks[net]; cfg != nil {
				for _, a := range cfg.Aliases {
					n := objectName(a)
					if errs := validation.IsDNS1035Label(n); len(errs) > 0 {
						c.warnPart(s.Name, "networks."+net+".aliases", fmt.Sprintf("alias %q cannot be a Service name (%s)", a, errs[0]))
						continue
					}
					if _, taken := c.p.Services[a]; taken || slices.Contains(names, n) {
						continue
					}
					names = append(names, n)
				}
			}
		}
		for i, n := range names {
			what := fmt.Sprintf("service %q", s.Name)
			if i > 0 {
				what = fmt.Sprintf("an alias of service %q", s.Name)
			}
			if err := c.claim("Service", n, what); err != nil {
				return err
			}
			svc := &corev1.Service{TypeMeta: typeMeta("v1", "Service"), ObjectMeta: c.meta(n, s.Name),
				Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, Selector: c.selector(s.Name), Ports: sp}}
			c.services = append(c.services, svc)
		}
	} else {
		for _, net := range sortedKeys(s.Networks) {
			if cfg := s.Networks[net]; cfg != nil && len(cfg.Aliases) > 0 {
				c.warnPart(s.Name, "networks."+net+".aliases", "the service has no ports or expose, so no Service carries the alias")
			}
		}
	}
	return c.publish(s)
}

// publish makes <name>-published for the published ports of s.
func (c *conv) publish(s types.ServiceConfig) error {
	if len(s.Ports) > 0 && c.internalOnly(s) {
		c.warnPart(s.Name, "ports", "its networks are all internal: as in compose, its ports are not published")
		return nil
	}
	var sp []corev1.ServicePort
	lb := c.o.PublishAs == PublishLoadBalancer
	seen := map[string]bool{}
	for _, p := range s.Ports {
		if p.Mode == "host" {
			c.warnPart(s.Name, "ports", fmt.Sprintf("mode host of port %d: published through the Service like ingress", p.Target))
		}
		if p.HostIP != "" && p.HostIP != "0.0.0.0" && p.HostIP != "::" {
			c.warnPart(s.Name, "ports", fmt.Sprintf("host_ip %s of port %d: a Service listens on every node address", p.HostIP, p.Target))
		}
		if p.Published == "" {
			// compose picks a host port; the cluster picks a node port
			if lb {
				continue
			}
		}
		pp := port{target: int32(p.Target), protocol: protocolOf(p.Protocol), name: p.Name, app: p.AppProtocol}
		published := pp.target
		if p.Published != "" {
			lo, _, isRange := strings.Cut(p.Published, "-")
			n, err := strconv.Atoi(lo)
			if err != nil || n < 1 || n > 65535 {
				return refuse(s.Name, "ports", "published port %q is not a port", p.Published)
			}
			if isRange {
				c.warnPart(s.Name, "ports", fmt.Sprintf("published range %s: its first port is used", p.Published))
			}
			published = int32(n)
		}
		k := fmt.Sprintf("%d/%s", published, pp.protocol)
		if seen[k] {
			continue
		}
		seen[k] = true
		port := corev1.ServicePort{Name: portName(pp, published), Protocol: pp.protocol, Port: published, TargetPort: intstr.FromInt32(pp.target)}
		if !lb && p.Published != "" {
			if published >= 30000 && published <= 32767 {
				port.NodePort = published
			} else {
				c.warnPart(s.Name, "ports", fmt.Sprintf("published port %d is outside the NodePort range 30000-32767: the cluster picks the node port", published))
			}
		}
		sp = append(sp, port)
	}
	if len(sp) == 0 {
		return nil
	}
	name := c.names[s.Name] + "-published"
	if err := c.claim("Service", name, fmt.Sprintf("the published ports of service %q", s.Name)); err != nil {
		return err
	}
	typ := corev1.ServiceTypeNodePort
	if lb {
		typ = corev1.ServiceTypeLoadBalancer
	}
	c.services = append(c.services, &corev1.Service{TypeMeta: typeMeta("v1", "Service"), ObjectMeta: c.meta(name, s.Name),
		Spec: corev1.ServiceSpec{Type: typ, Selector: c.selector(s.Name), Ports: sp}})
	return nil
}

// networkLabels mark a service's pods with the networks it is on. A
// service with network_mode service:X is on X's: in compose it shares X's
// namespace, so it reaches and is reached as X is.
func (c *conv) networkLabels(s types.ServiceConfig) map[string]string {
	s = c.networkOwner(s)
	if s.NetworkMode != "" {
		return nil
	}
	out := map[string]string{}
	for net := range s.Networks {
		out[networkLabel+net] = "true"
	}
	return out
}

// networkOwner follows network_mode service:X to the service whose
// namespace s shares (the loader has refused a cycle).
func (c *conv) networkOwner(s types.ServiceConfig) types.ServiceConfig {
	for i := 0; i < len(c.p.Services) && strings.HasPrefix(s.NetworkMode, "service:"); i++ {
		x, ok := c.p.Services[strings.TrimPrefix(s.NetworkMode, "service:")]
		if !ok {
			break
		}
		s = x
	}
	return s
}

// internalOnly: every network of s is internal. Docker then gives the
// container no gateway, so it publishes none of its ports.
func (c *conv) internalOnly(s types.ServiceConfig) bool {
	if s.NetworkMode != "" || len(s.Networks) == 0 {
		return false
	}
	for net := range s.Networks {
		if !c.p.Networks[net].Internal {
			return false
		}
	}
	return true
}

// networks make the NetworkPolicies: per network, its pods take traffic
// from each other and send anywhere, or, internal, only to each other and
// the cluster's DNS; per service with published ports, those ports take
// traffic from anywhere, unless its networks are all internal (Docker
// publishes nothing then); per service with network_mode none, no traffic
// at all; per service with network_mode bridge (Docker's default bridge,
// none of the project's networks), only its published ports in. Policies add up, so a pod on an internal and an ordinary network
// still reaches out, as in compose. policy_test.go proves them against
// compose's rules with an evaluator of the NetworkPolicy semantics.
func (c *conv) networks() error {
	for _, net := range sortedKeys(c.p.Networks) {
		cfg := c.p.Networks[net]
		used := false
		for _, s := range c.p.Services {
			if _, ok := s.Networks[net]; ok && s.NetworkMode == "" {
				used = true
			}
		}
		if !used {
			continue
		}
		if cfg.External {
			c.warnPart("", "networks."+net+".external", "an external network is made a policy among the project's pods only")
		}
		if cfg.Driver != "" && cfg.Driver != "bridge" {
			c.warnKey("", "networks."+net+".driver", cfg.Driver+": every pod network is the cluster's")
		}
		key := networkLabel + net
		if errs := validation.IsQualifiedName(key); len(errs) > 0 {
			return errclass.New(errclass.ErrInvalid, "network %q: its name cannot be a Kubernetes label (%s): rename the network", net, errs[0])
		}
		name := "network-" + objectName(net)
		if err := c.claim("NetworkPolicy", name, fmt.Sprintf("network %q", net)); err != nil {
			return err
		}
		members := metav1.LabelSelector{MatchLabels: map[string]string{key: "true"}}
		pol := &networkingv1.NetworkPolicy{TypeMeta: typeMeta("networking.k8s.io/v1", "NetworkPolicy"), ObjectMeta: c.meta(name, ""),
			Spec: networkingv1.NetworkPolicySpec{
				PodSelector: members,
				PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
				Ingress:     []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{PodSelector: &members}}}},
			}}
		pol.Labels["com.docker.compose.network"] = net
		if l, _ := userLabels(cfg.Labels); l != nil {
			pol.Labels = merge(pol.Labels, l)
		}
		if cfg.Internal {
			dns := []networkingv1.NetworkPolicyPort{{Protocol: ptr(corev1.ProtocolUDP), Port: ptr(intstr.FromInt32(53))}, {Protocol: ptr(corev1.ProtocolTCP), Port: ptr(intstr.FromInt32(53))}}
			pol.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{
				{To: []networkingv1.NetworkPolicyPeer{{PodSelector: &members}}},
				{To: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{}, PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"k8s-app": "kube-dns"}}}}, Ports: dns},
			}
		} else {
			pol.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{{}}
		}
		c.policies = append(c.policies, pol)
	}
	for _, sname := range sortedKeys(c.p.Services) {
		s := c.p.Services[sname]
		if s.NetworkMode == "none" {
			name := c.names[sname] + "-no-network"
			if err := c.claim("NetworkPolicy", name, fmt.Sprintf("network_mode none of service %q", sname)); err != nil {
				return err
			}
			c.policies = append(c.policies, &networkingv1.NetworkPolicy{TypeMeta: typeMeta("networking.k8s.io/v1", "NetworkPolicy"), ObjectMeta: c.meta(name, sname),
				Spec: networkingv1.NetworkPolicySpec{
					PodSelector: metav1.LabelSelector{MatchLabels: c.selector(sname)},
					PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
				}})
			continue
		}
		if c.internalOnly(s) {
			continue
		}
		var ports []networkingv1.NetworkPolicyPort
		for _, p := range s.Ports {
			ports = append(ports, networkingv1.NetworkPolicyPort{Protocol: ptr(protocolOf(p.Protocol)), Port: ptr(intstr.FromInt32(int32(p.Target)))})
		}
		name, what := c.names[sname]+"-published", fmt.Sprintf("the published ports of service %q", sname)
		switch {
		case s.NetworkMode == "bridge":
			// on Docker's default bridge a container shares no network
			// with the project's: only its published ports are open,
			// and with none, nothing (a policy without rules)
			name, what = c.names[sname]+"-bridge", fmt.Sprintf("network_mode bridge of service %q", sname)
		case len(ports) == 0 || s.NetworkMode != "":
			continue
		}
		if err := c.claim("NetworkPolicy", name, what); err != nil {
			return err
		}
		pol := &networkingv1.NetworkPolicy{TypeMeta: typeMeta("networking.k8s.io/v1", "NetworkPolicy"), ObjectMeta: c.meta(name, sname),
			Spec: networkingv1.NetworkPolicySpec{
				PodSelector: metav1.LabelSelector{MatchLabels: c.selector(sname)},
				PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			}}
		if len(ports) > 0 {
			pol.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{Ports: ports}}
		}
		c.policies = append(c.policies, pol)
	}
	return nil
}
