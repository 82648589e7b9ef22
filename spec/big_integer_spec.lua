-- Integers above 2^53 in event ids, user ids and key values. A double
-- has 53 bits of precision, so 12345678901234567 read through one
-- becomes 12345678901234568. The host reads them from their digits.
local support = require "spec.support"

describe("big integers", function()
  local h

  before_each(function()
    h = support.host()
  end)

  after_each(support.close_hosts)

  describe("in ids from Lua", function()
    local seen

    before_each(function()
      seen = {}
      h:define{
        name = "echo",
        on = "app/clicked",
        key = false,
        run = function(_, event)
          seen[#seen + 1] = {id = event.id, user = event.user}
        end,
      }
    end)

    it("keep every digit of an integer id", function()
      h:ingest{user = "u1", name = "app/clicked", id = 12345678901234567}

      assert.are.equal("12345678901234567", seen[1].id)
    end)

    it("keep apart users one apart above 2^53", function()
      h:ingest{user = 9007199254740993, name = "app/clicked"}
      h:ingest{user = 9007199254740992, name = "app/clicked"}

      assert.are.equal("9007199254740993", seen[1].user)
      assert.are.equal("9007199254740992", seen[2].user)
      assert.are.equal(2, #h:runs())
    end)

    it("keep the sign of a negative id", function()
      h:ingest{user = "u1", name = "app/clicked", id = math.mininteger}

      assert.are.equal("-9223372036854775808", seen[1].id)
    end)

    it("take a whole float id as its integer", function()
      h:ingest{user = "u1", name = "app/clicked", id = 2^53}
      h:ingest{user = "u1", name = "app/clicked", id = 42.0}

      assert.are.equal("9007199254740992", seen[1].id)
      assert.are.equal("42", seen[2].id)
    end)

    it("find a duplicate by all digits", function()
      assert.is_number(h:ingest{user = "u1", name = "app/clicked", id = 9007199254740993})
      assert.is_number(h:ingest{user = "u1", name = "app/clicked", id = 9007199254740992})
      local seq, reason = h:ingest{user = "u1", name = "app/clicked", id = 9007199254740993}

      assert.is_nil(seq)
      assert.are.equal("duplicate", reason)
    end)

    it("reject a fraction, naming the value", function()
      local ok, message = pcall(h.ingest, h, {user = "u1", name = "app/clicked", id = 2.5})

      assert.is_false(ok)
      assert.matches('invalid "id" 2.5: give an integer or a string', message, 1, true)
    end)

    it("reject a float too large for 64 bits", function()
      local ok, message = pcall(h.ingest, h, {user = "u1", name = "app/clicked", id = 2^70})

      assert.is_false(ok)
      assert.matches("write a number this large in plain digits", message, 1, true)
    end)
  end)

  describe("in key values", function()
    local ordered

    before_each(function()
      ordered = {}
      h:define{
        name = "cart",
        on = "shop/cart_created",
        key = "data.cart_id",
        run = function(j, event)
          local cart_id = event.data.cart_id
          local order = j.wait_for("shop/order_placed",
                                   {match = {cart_id = cart_id}, timeout = "1d"})
          if order ~= nil then
            ordered[#ordered + 1] = {cart = cart_id, order = order.data.cart_id,
                                     type = math.type(cart_id)}
          end
        end,
      }
    end)

    local function keys()
      local found = {}
      for i, run in ipairs(h:runs()) do
        found[i] = run.key
      end
      return found
    end

    it("keep carts one apart above 2^53", function()
      h:ingest{user = "u1", name = "shop/cart_created", data = {cart_id = 12345678901234567}}
      h:ingest{user = "u1", name = "shop/cart_created", data = {cart_id = 12345678901234568}}

      assert.are.same({"12345678901234567", "12345678901234568"}, keys())
    end)

    it("start no second run for the same big cart", function()
      h:ingest{user = "u1", name = "shop/cart_created", data = {cart_id = 12345678901234567}}
      h:ingest{user = "u1", name = "shop/cart_created", data = {cart_id = 12345678901234567}}

      assert.are.same({"12345678901234567"}, keys())
    end)

    it("wake only the run of the ordered cart", function()
      h:ingest{user = "u1", name = "shop/cart_created", data = {cart_id = 12345678901234567}}
      h:ingest{user = "u1", name = "shop/cart_created", data = {cart_id = 12345678901234568}}
      h:ingest{user = "u1", name = "shop/order_placed", data = {cart_id = 12345678901234568}}

      assert.are.same({{cart = 12345678901234568, order = 12345678901234568, type = "integer"}},
                      ordered)
      local runs = h:runs()
      assert.are.equal("waiting", runs[1].status)
      assert.are.equal("completed", runs[2].status)
    end)

    it("keep the sign of a negative key", function()
      h:ingest{user = "u1", name = "shop/cart_created", data = {cart_id = -9007199254740993}}

      assert.are.same({"-9007199254740993"}, keys())
    end)

    it("give 42 and 42.0 the same key", function()
      h:ingest{user = "u1", name = "shop/cart_created", data = {cart_id = 42}}
      h:ingest{user = "u1", name = "shop/cart_created", data = {cart_id = 42.0}}
      h:ingest{user = "u1", name = "shop/cart_created", data = {cart_id = 2.5}}

      assert.are.same({"42", "2.5"}, keys())
    end)
  end)

  it("reach a run as exact integers in data", function()
    local got
    h:define{
      name = "reader",
      on = "app/clicked",
      run = function(_, event)
        got = {value = event.data.n, type = math.type(event.data.n)}
      end,
    }
    h:ingest{user = "u1", name = "app/clicked", data = {n = 9007199254740993}}

    assert.are.same({value = 9007199254740993, type = "integer"}, got)
  end)
end)
