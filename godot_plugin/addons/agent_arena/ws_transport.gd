## Web transport: binary WebSocket messages (WebSocketPeer) carrying the raw ZMTP byte stream.
##
## Browsers have no raw TCP, so web exports reach the ZeroMQ server through a WebSocket relay
## that forwards bytes unchanged (websockify, or the relay of `agent-arena serve`).
extends "res://addons/agent_arena/transport.gd"

const BUFFER_SIZE: int = 4 * 1024 * 1024

var _peer: WebSocketPeer = null
var _pending: Array[PackedByteArray] = []
var _write_failed: bool = false


func open(url: String) -> Error:
	_peer = WebSocketPeer.new()
	_peer.inbound_buffer_size = BUFFER_SIZE
	_peer.outbound_buffer_size = BUFFER_SIZE
	_peer.max_queued_packets = 4096
	_pending = []
	_write_failed = false
	last_error = ""
	var err := _peer.connect_to_url(url)
	if err != OK:
		last_error = "cannot open %s: %s" % [url, error_string(err)]
	return err


func poll() -> void:
	if _peer == null:
		return
	_peer.poll()
	if _peer.get_ready_state() == WebSocketPeer.STATE_OPEN:
		for chunk in _pending:
			var err := _peer.send(chunk, WebSocketPeer.WRITE_MODE_BINARY)
			if err != OK:
				# Bytes queued while connecting are the ZMTP greeting: losing them is fatal.
				last_error = (
					"websocket send of %d bytes failed: %s" % [chunk.size(), error_string(err)]
				)
				_write_failed = true
				break
		_pending = []


func get_status() -> Status:
	if _peer == null:
		return Status.CLOSED
	if _write_failed:
		return Status.FAILED
	match _peer.get_ready_state():
		WebSocketPeer.STATE_CONNECTING:
			return Status.CONNECTING
		WebSocketPeer.STATE_OPEN:
			return Status.OPEN
	if _peer.get_close_code() == -1 or _peer.get_close_code() == 1006:
		last_error = "websocket closed abnormally (relay down or refused)"
		return Status.FAILED
	last_error = "websocket closed (%d %s)" % [_peer.get_close_code(), _peer.get_close_reason()]
	return Status.CLOSED


func read() -> PackedByteArray:
	var out := PackedByteArray()
	if _peer == null:
		return out
	while _peer.get_available_packet_count() > 0:
		out.append_array(_peer.get_packet())
	return out


func write(data: PackedByteArray) -> Error:
	if _peer == null:
		return ERR_UNCONFIGURED
	if _peer.get_ready_state() != WebSocketPeer.STATE_OPEN:
		_pending.append(data)
		return OK
	var err := _peer.send(data, WebSocketPeer.WRITE_MODE_BINARY)
	if err != OK:
		# WebSocketPeer refuses a message that does not fit its outbound buffer (BUFFER_SIZE).
		last_error = (
			"websocket send of %d bytes failed: %s (outbound buffer %d bytes, %d buffered)"
			% [
				data.size(),
				error_string(err),
				BUFFER_SIZE,
				_peer.get_current_outbound_buffered_amount()
			]
		)
	return err


func close() -> void:
	if _peer != null:
		_peer.close()
	_peer = null
	_pending = []
