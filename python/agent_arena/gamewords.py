"""Word lists the game generator (gamegen.py) draws names from, written for it.

Large enough that a new game's vocabulary is unlikely to be here, and written without looking
at any evaluation set: tests/test_gamegen.py checks that no evaluation set's tool name,
argument name or observation key can come out of these lists. The demo's own names (its tools
and observation keys) are left out on purpose: one evaluation game uses them.
"""

from __future__ import annotations


def _words(text: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(text.split()))


# ---- tool names: a verb, sometimes a particle or an object --------------------------------------

GO_VERBS = _words("""
walk go travel approach head stroll hike march wander roam journey advance proceed step trek
amble saunter stride navigate steer hurry jog trot tread venture visit come relocate traverse
cross crawl sneak tiptoe pace ramble meander commute ride scoot scurry waddle lumber plod trudge
stomp transit goto make_way set_course close_in draw_near near hasten path route walkabout
wend shuffle glide drift rove range progress track trail nav
""")
GO_PARTICLES = ("", "", "to", "toward", "towards", "over", "over_to", "up_to", "for")
GO_OBJECTS = _words("""
spot place location point tile cell waypoint destination mark site coords square node area
""")

TAKE_VERBS = _words("""
grab take collect gather get obtain acquire snatch seize lift hoist loot harvest pluck pocket
claim retrieve scoop nab grasp clutch secure stash bag glean salvage keep procure amass hoard
palm catch reap pilfer swipe yank pull extract tuck load carry fetch_here take_hold lift_up
scoop_up snatch_up gather_up grab_hold receive accept
""")
TAKE_OBJECTS = _words("""
thing object loot stuff prop goods resource belonging article piece treasure find pickup_obj
""")

RUN_VERBS = _words("""
escape retreat run_away evade bolt scram withdraw fall_back back_off skedaddle abscond scatter
take_cover dodge elude avoid outrun sprint_away get_away disengage recoil run_off clear_out
make_off break_away scurry_away duck shelter seek_safety hightail bail vamoose decamp
cut_and_run turn_tail head_for_safety retire
""")
RUN_OBJECTS = _words("""
danger hazard enemy foe attacker predator monster peril menace beast hostile harm
""")

TALK_VERBS = _words("""
speak talk reply respond answer tell chat utter voice shout whisper call_out remark mention
declare announce state converse express communicate pronounce mutter murmur exclaim yell
articulate verbalize retort rejoin vocalize address inform relay comment orate proclaim
broadcast holler chime_in pipe_up speak_up talk_back
""")
TALK_OBJECTS = _words("""
line words message phrase sentence speech remark response dialogue quote chat_line
""")

WAIT_VERBS = _words("""
wait rest pause stay linger loiter stand standby remain tarry bide lounge relax dawdle stall
halt freeze sit do_nothing noop pass skip_turn end_turn await stand_still stand_by keep_still
hang_around stay_put hold_on be_still hold_position hold_still hold_ground stay_here chill
wait_here rest_here bide_time mark_time laze
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
dest destination where spot location loc coords point place waypoint endpoint goal_pos to_pos
coordinate site aim dest_xy xy end_point go_pos spot_xy
""")
DEST_REF_ARGS = _words("""
dest_ref toward towards entity object_ref to_what dest_name landmark who_or_what go_ref
""")
TAKE_ARGS = _words("""
what thing obj object_id which uid ref handle loot_id object entity_id tag label thing_id
subject article goods_id grab_ref piece resource_id
""")
RUN_ARGS = _words("""
away_from danger foe from_whom enemy hazard_id source menace attacker predator_id peril_ref
escape_from flee_from_ref run_from
""")
TALK_ARGS = _words("""
line words message msg utterance phrase reply speech content sentence remark quote
what_to_say spoken response_text
""")
TALK_TO_ARGS = _words("""
recipient listener addressee whom audience speak_to talk_to reply_to
""")
WAIT_ARGS = _words("""
seconds ticks turns duration for_ticks beats moments rounds span
""")
PACE_ARGS = _words("""
pace gait tempo manner
""")
PACE_VALUES = (("slow", "normal", "fast"), ("stroll", "jog"), ("calm", "hurried"),
               ("careful", "quick"))

# coordinate keys of a position written as a map
COORD_KEYS = (("east", "north"), ("col", "row"), ("u", "v"), ("lon", "lat"), ("px", "py"),
              ("across", "down"), ("e", "n"), ("i", "j"), ("east", "north", "up"),
              ("px", "py", "pz"), ("u", "v", "w"))

# ---- observation keys --------------------------------------------------------------------------

SELF_KEYS = _words("self me myself you player status body avatar char character hero pawn")
NAME_KEYS = _words("name callsign whoami my_name handle nick designation")
HP_KEYS = _words("hp vitality life hit_points vigor wellbeing vitals condition hearts hpct")
SELF_POS_KEYS = _words("at loc where coords spot my_pos place standing_at xy whereabouts")
WANT_KEYS = _words("""
quest task objective wants seeking errand need needs order job mission aim wish desire
looking_for shopping want todo
""")
BAG_KEYS = _words("bag carrying pack holding satchel inventory backpack pockets stash kit")
THINGS_KEYS = _words("""
nearby surroundings around things objects scene entities sight sees spotted world view
vicinity environment area neighbourhood landscape
""")
ITEMS_KEYS = _words("items loot objects_seen ground pickups resources lying_around stuff")
BEINGS_KEYS = _words("creatures animals beings wildlife critters monsters fauna others")
PEOPLE_KEYS = _words("people folks villagers npcs companions persons crowd bystanders")
DANGER_KEYS = _words("dangers enemies predators hostiles foes hazards menaces perils")
REACH_LIST_KEYS = _words("""
reachable within_reach at_hand adjacent touching grabbable close_enough underfoot by_hand
in_range nearby_ids
""")
REACH_FLAG_KEYS = _words("reachable touching at_hand grabbable close_enough adjacent in_arm")
ENT_ID_KEYS = _words("uid ref handle tag key ident label oid eid name")
ENT_KIND_KEYS = _words("type category sort what species class breed variety is_a")
ENT_POS_KEYS = _words("at loc where coords spot place xy")
ENT_DIST_KEYS = _words("dist range away meters far steps_away how_far gap")
HOSTILE_KEYS = _words("hostile aggressive dangerous angry attacks mean wild")
SPEECH_KEYS = _words("""
messages chat dialogue overheard voices said incoming talk conversation speech_log ears
hearing spoken_to log lines chatter inbox
""")
SPEAKER_KEYS = _words("speaker who by sender source author voice")
LINE_KEYS = _words("line words msg content says utterance message")
ADDRESS_KEYS = _words("to addressee recipient towards aimed_at for_whom")
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
DIRECTIONS = ("north", "south", "east", "west", "north-east", "south-west", "past the bridge",
              "behind the mill", "up the hill", "by the river")

# ---- themes: how a game names itself -----------------------------------------------------------

THEMES = _words("""
farmstead dungeon harbor_town frontier swamp tundra desert_oasis sky_isles mine_camp castle
orchard_valley river_delta jungle_ruin moon_base pirate_cove monastery goblin_warren
festival_fair border_fort witch_wood
""")
