## A byte-stream transport the ZMTP client runs over. Implementations only move bytes:
## all protocol logic lives in zmtp.gd, so every transport shares the tested byte logic.
##
## Endpoints are URLs: "tcp://host:port" (StreamPeerTCP, desktop) or "ws://host:port/path"
## (WebSocketPeer, web exports through a WebSocket relay such as websockify).
extends RefCounted

enum Status { CLOSED, CONNECTING, OPEN, FAILED }

## Human-readable reason for the last failure.
var last_error: String = ""


## Starts connecting without blocking; progress is observed through [method poll].
func open(_url: String) -> Error:
	return ERR_UNAVAILABLE


## Advances the connection; call once per frame.
func poll() -> void:
	pass


func get_status() -> Status:
	return Status.CLOSED


## Returns every byte received since the last call (possibly none).
func read() -> PackedByteArray:
	return PackedByteArray()


## Queues bytes for sending; never blocks.
func write(_data: PackedByteArray) -> Error:
	return ERR_UNAVAILABLE


func close() -> void:
	pass


## Splits "scheme://host:port/path" into [scheme, host, port, path]; port is -1 when absent.
static func parse_url(url: String) -> Array:
	var scheme := ""
	var rest := url
	var sep := url.find("://")
	if sep >= 0:
		scheme = url.substr(0, sep).to_lower()
		rest = url.substr(sep + 3)
	var path := ""
	var slash := rest.find("/")
	if slash >= 0:
		path = rest.substr(slash)
		rest = rest.substr(0, slash)
	var port := -1
	var colon := rest.rfind(":")
	if colon >= 0 and rest.substr(colon + 1).is_valid_int():
		port = rest.substr(colon + 1).to_int()
		rest = rest.substr(0, colon)
	return [scheme, rest.trim_prefix("[").trim_suffix("]"), port, path]
