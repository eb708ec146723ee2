"""Word lists the game generator (gamegen.py) draws names from, written for it.

Large enough that a new game's vocabulary is unlikely to be here, and written without looking
at any evaluation set: tests/integration/test_gamegen.py checks that no evaluation set's tool name,
argument name or observation key can come out of these lists. The demo's own names (its tools
and observation keys) are left out on purpose: one evaluation game uses them.
"""

from __future__ import annotations


def _words(text: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(text.split()))


# ---- tool names: a verb, sometimes a particle or an object --------------------------------------

GO_VERBS = _words("""
saunter meander waddle lumber plod trudge stomp wend betake hie perambulate sashay mosey
promenade toddle lope footslog tramp yomp foray sally sidle waltz strut swagger pad peregrinate
sally_forth gad traipse hoof_it foot_it ambulate tootle potter_over mosey_on sidle_up wend_way
""")
GO_PARTICLES = ("", "", "to", "toward", "towards", "over", "over_to", "up_to", "for")
GO_OBJECTS = _words("""
spot place location point tile cell waypoint destination mark site coords square node area
""")

TAKE_VERBS = _words("""
hoist glean procure palm reap pilfer tuck purloin filch appropriate heft pick_off wrest annex
commandeer confiscate requisition pinch nick collar glom latch_onto lay_hands_on cadge
winkle_out prise_loose cop
""")
TAKE_OBJECTS = _words("""
thing object loot stuff prop goods resource belonging article piece treasure find pickup_obj
""")

RUN_VERBS = _words("""
scram skedaddle abscond scatter take_cover elude outrun sprint_away disengage recoil run_off
clear_out make_off break_away scurry_away duck shelter seek_safety hightail bail vamoose decamp
cut_and_run turn_tail head_for_safety retire flit skitter_off beat_it light_out shove_off
push_off peel_away draw_back pull_back give_ground bug_out take_flight absquatulate sidestep
shy_away steer_clear get_clear make_tracks
""")
RUN_OBJECTS = _words("""
danger hazard enemy foe attacker predator monster peril menace beast hostile harm
""")

TALK_VERBS = _words("""
utter remark mention declare announce converse express communicate pronounce mutter murmur
exclaim articulate verbalize retort rejoin vocalize address inform relay comment orate proclaim
broadcast holler chime_in pipe_up speak_up talk_back natter opine quip intone recite declaim
parley confer banter chirp drawl bellow muse_aloud put_in pipe go_on share_words
""")
TALK_OBJECTS = _words("""
line words message phrase sentence speech remark response dialogue quote chat_line
""")

WAIT_VERBS = _words("""
tread_water twiddle_thumbs cool_heels stand_pat keep_vigil hold_station pass_time dwell
rest_a_spell sit_a_spell bide_a_while stay_a_beat keep_station
""")

# never the right call in a generated situation: tools a game has besides the five kinds
EXTRA_TOOLS = (
    ("craft", "Craft a tool from materials you carry."),
    ("eat", "Eat food from your pack when you are hungry."),
    ("sleep", "Sleep until morning. Only in a bed."),
    ("dance", "Dance for a moment."),
    ("sing", "Sing a song at a festival."),
    ("wave", "Wave at someone to greet them from afar."),
    ("jump", "Jump over a low obstacle in front of you."),
    ("drop", "Drop something you carry onto the ground."),
    ("throw", "Throw something you carry at a spot."),
    ("build", "Build a wall segment where you stand."),
    ("dig", "Dig a hole where you stand."),
    ("fish", "Cast a line into water next to you."),
    ("read", "Read a sign or book in front of you."),
    ("cook", "Cook raw food at a lit fire."),
    ("trade", "Offer a trade to a merchant next to you."),
    ("open_door", "Open a door next to you."),
    ("light_fire", "Light a campfire. Needs dry kindling."),
    ("plant", "Plant a seed in soft soil."),
    ("pray", "Pray at a shrine next to you."),
    ("whistle", "Whistle a tune."),
    ("sharpen", "Sharpen a blade at a whetstone."),
    ("repair", "Repair broken gear with a kit."),
    ("paint", "Paint a wall next to you."),
    ("knock", "Knock on a door next to you."),
    ("equip", "Equip a weapon from your pack."),
    ("unlock", "Unlock a chest with a key you carry."),
    ("mount", "Mount a saddled animal next to you."),
    ("brew", "Brew a potion at a cauldron."),
)

# ---- argument names ----------------------------------------------------------------------------

DEST_POS_ARGS = _words("""
goal_pos dest_xy end_point go_pos spot_xy journey_to goal_xy finish_pos walk_pos trek_to
terminus aim_xy trail_end march_xy wander_goal roam_pos amble_xy goal_spot arrival_xy
""")
DEST_PLACE_ARGS = _words("""
which_room go_where room_to venue_name locale_to spot_name head_to_room station_to
""")
DEST_REF_ARGS = _words("""
dest_ref object_ref to_what dest_name who_or_what go_ref near_what approach_ref visit_ref
goal_ref stroll_ref
""")
TAKE_ARGS = _words("""
loot_id thing_id goods_id grab_ref resource_id chosen_one prize_id pocket_ref haul_id
snatch_ref wanted_ref claim_ref nab_id seize_ref harvest_id pluck_id
""")
RUN_ARGS = _words("""
hazard_id predator_id peril_ref flee_from_ref dread_id scary_one shun_ref threat_ref brute_id
fright_src
""")
RUN_POS_ARGS = _words("""
danger_xy threat_at flee_from_xy hazard_pos peril_xy
""")
RUN_DIR_ARGS = _words("""
flee_heading escape_dir bolt_toward run_heading away_dir
""")
TALK_ARGS = _words("""
response_text wording dialogue_line speech_text said_words retort_text lines_spoken utter_text
reply_words voice_line
""")
TALK_TO_ARGS = _words("""
hearer interlocutor said_to_whom told_whom ear_of
""")
WAIT_ARGS = _words("""
for_ticks pause_len wait_len beat_count linger_ticks idle_beats
""")
PACE_ARGS = _words("""
gait tempo walk_style
""")
PACE_VALUES = (("slow", "normal", "fast"), ("stroll", "jog"), ("calm", "hurried"),
               ("careful", "quick"))

# coordinate keys of a position written as a map
COORD_KEYS = (("easting", "northing"), ("col", "row"), ("lon", "lat"), ("px", "py"),
              ("across", "down"), ("easting", "northing", "height"), ("px", "py", "pz"))

# ---- observation keys --------------------------------------------------------------------------

SELF_KEYS = _words("""
protagonist self_info my_state persona npc_self me_block char_sheet
""")
NAME_KEYS = _words("""
whoami my_name known_as moniker npc_name self_name
""")
HP_KEYS = _words("""
lifeforce life_meter health_bar wellness hitpoints_left life_left
""")
SELF_POS_KEYS = _words("""
my_pos standing_at whereabouts my_xy stand_pos am_at my_spot my_coords self_xy located_at
""")
WANT_KEYS = _words("""
looking_for hunting_for to_find craving errand_item shopping_for want_item goal_item
fetch_quest desired_kind
""")
QUEST_KEYS = _words("""
quest_log active_quest current_errand task_card job_sheet
""")
QUEST_TITLE_KEYS = _words("""
heading quest_name errand_title
""")
QUEST_TEXT_KEYS = _words("""
what_to_do instructions briefing
""")
ITEM_ADJECTIVES = _words("""
old red silver dried small heavy wooden glass spare clean iron golden blue fresh tin
""")
BAG_KEYS = _words("""
haversack tote_contents pannier kit_bag saddlebag_items lugged
""")
THINGS_KEYS = _words("""
espied glimpsed perceived within_view scan_hits radar_blips lookout_report
""")
ITEMS_KEYS = _words("""
objects_seen pickups lying_around trinkets wares findings loose_items ground_items collectables
""")
BEINGS_KEYS = _words("""
beasts fauna_seen animals_seen creatures_seen wild_things
""")
PEOPLE_KEYS = _words("""
townsfolk passersby bystanders persons_seen npcs_near townspeople
""")
DANGER_KEYS = _words("""
baddies menace_list hostile_blips ill_wishers
""")
HAZARD_KEYS = _words("""
hazard_feed peril_board warning_lights sensor_warnings trouble_spots risk_report klaxons
""")
CLOSING_KEYS = _words("""
bearing_down on_top_of_you nearly_upon looming imminent
""")
HAZARD_FLAG_KEYS = _words("""
harmful deadly unsafe lethal_flag
""")
SELF_PLACE_KEYS = _words("""
current_room present_in my_room where_i_am stationed_in room_now
""")
ENT_PLACE_KEYS = _words("""
lies_in found_in in_room kept_in sits_in room_of
""")
REACH_LIST_KEYS = _words("""
grabbable underfoot by_hand within_grasp arm_range reach_ids in_grasp grab_ok
""")
DESC_KEYS = _words("""
looks_like blurb desc_text appearance flavor_text spotted_as
""")
DESC_WORDS = _words("""
wooden battered shiny dusty half-buried cracked sturdy tiny large muddy rusty dented new
""")
SELF_REACH_KEYS = _words("""
grasp_radius pickup_range arm_span grab_dist reach_len hand_range
""")
GOAL_VERB_KEYS = _words("""
verb action_wanted to_do_verb duty_verb orders_verb
""")
NO_GOAL_VALUES = (None, "none", "", "nothing", "-", "n/a", "idle", "no task", "free")
REACH_FLAG_KEYS = _words("""
grabbable in_arm within_grasp graspable in_grasp grab_ok arm_length
""")
ENT_ID_KEYS = _words("""
ident oid eid ref_code serial callname uid_str tag_id handle_id
""")
ENT_KIND_KEYS = _words("""
archetype kindred template_name classed_as
""")
ENT_POS_KEYS = _words("""
resting_at seen_at perched_at loc_xy
""")
ENT_DIST_KEYS = _words("""
how_far gap span_to range_to away_by dist_to
""")
HOSTILE_KEYS = _words("""
angry bites menacing wants_blood is_hostile foe_flag
""")
SPEECH_KEYS = _words("""
speech_log ears_caught heard_lately talk_feed earshot utterances_in heard_lines said_nearby
chat_log
""")
SPEAKER_KEYS = _words("""
talker uttered_by spoken_by teller said_by voice_of
""")
LINE_KEYS = _words("""
spiel verbatim quoth
""")
ADDRESS_KEYS = _words("""
aimed_at for_whom meant_for directed_at said_to to_whom
""")
ORDER_KEYS = _words("""
marching_orders edict mandate
""")
ORDER_VALUES = ("hold position", "stay on guard here", "wait for the caravan",
                "keep watch at this spot", "do not leave your post", "wait here until relieved")
NOISE_KEYS = _words("clock weather day turn season light time_of_day mood tick_no frame zone")
NOISE_VALUES = {
    "weather": ("rain", "sunny", "fog", "snow", "windy", "clear"),
    "season": ("spring", "summer", "autumn", "winter"),
    "light": ("dim", "bright", "dark", "dusk"),
    "time_of_day": ("morning", "noon", "evening", "night"),
    "mood": ("calm", "bored", "curious", "tired", "cheerful"),
    "zone": ("meadow", "village", "forest edge", "harbor", "market", "ruins"),
}

# ---- values: kinds of things, beings, people, places -------------------------------------------

ITEM_KINDS = _words("""
acorn amber anvil arrowhead axe barrel basket berry blanket bolt bone book bottle bow bread
brick bucket button cabbage candle carrot chalk cheese chestnut chisel cloak clover coal coin
copper corn crystal cup dagger egg feather fern flask flint flour gem glove gourd grain hammer
hat helmet herb honey horn jar jug kettle key lantern leaf leather lemon lily lockpick log
map melon mint moss nail needle nut oar onion orb parchment pear pebble pepper pie plank plum
potato pot quill radish reed ribbon ring rope rune saddle salt scroll seed shell shield sickle
skull slate soap spear spice spoon stick straw string sugar sword thread tomato torch trowel
turnip twig vial walnut wheat whistle_toy wool yarn
""")
BEAST_KINDS = _words("""
bear boar wolf troll ogre viper scorpion spider bandit ghoul wraith goblin hyena jackal panther
lynx cougar hornet_swarm crocodile gator raider brute warg basilisk harpy golem skeleton zombie
""")
HAZARD_KINDS = _words("""
fire blaze falling_debris gas_leak electric_arc rockslide loose_cannon flood_water
collapsing_beam steam_vent acid_pool lava_flow avalanche sinkhole quicksand wildfire live_wire
toxic_cloud swinging_boom runaway_cart cave_in mudslide falling_icicles boiling_oil smoke_plume
crumbling_floor tidal_surge spark_shower burst_pipe falling_rocks chemical_spill radiation_leak
rolling_boulder whirlpool brush_fire ember_storm grain_avalanche snapped_cable rising_water
""")
CRITTER_KINDS = _words("rabbit deer sheep goat hen duck squirrel cat dog cow pig frog owl fox_cub")
PERSON_NAMES = _words("""
Ada Bram Cora Dain Edda Finn Gale Hale Ines Joss Kira Lorn Mira Nell Orin Pip Quinn Rhea Sten
Tova Ulla Vale Wren Yara Zed Brom Cass Dree Eli Fen Gus Hild Ivo Jory Kell Lark Moss Nim Oda
Pell Rook Sage Tam Uma Vik Wyn Arlo Bex Cato Dov Elm Flint Greer Hob
""")
PLACE_NAMES = _words("""
well mill bridge market chapel forge tavern harbor gate tower barn orchard quarry lighthouse
bakery stable library square fountain camp cave ruins grove pond dock
""")
ROOM_NAMES = _words("""
stable hayloft engine_room bridge galley cargo_hold tack_room cellar attic scullery chapel_yard
boiler_room crows_nest mess_hall armory infirmary workshop pantry courtyard gatehouse
lower_deck upper_deck mine_shaft sluice_gate signal_box pump_house loading_bay control_room
greenhouse smokehouse
""")
DIRECTIONS = ("north", "south", "east", "west", "north-east", "south-west", "past the bridge",
              "behind the mill", "up the hill", "by the river")

# ---- themes: how a game names itself -----------------------------------------------------------

THEMES = _words("""
farmstead dungeon harbor_town frontier swamp tundra desert_oasis sky_isles mine_camp castle
orchard_valley river_delta jungle_ruin moon_base pirate_cove monastery goblin_warren
festival_fair border_fort witch_wood
""")
