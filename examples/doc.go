// Package examples shows sessionkit on the routers it needs no adapter
// for: chi and the standard library's ServeMux. Both take net/http
// middleware, so the Manager's Handler wraps the router. gin and echo have
// adapter modules of their own: ginsession and echosession.
package examples
